package bitnet.engine.cli;

import bitnet.api.BitnetModel;
import bitnet.api.FineTuneOutput;
import bitnet.api.FineTuneResult;
import bitnet.api.FineTuneSettings;
import bitnet.api.TextFiles;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.logging.Logger;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

@Command(name = "finetune", description = "Training or quantization-aware fine-tuning; writes an HF model directory.")
public final class FinetuneCmd implements Callable<Integer> {
    private static final Logger LOG = Logger.getLogger("bitnet");

    @Mixin
    Common common;

    @Mixin
    ModelArgs model;

    @Mixin
    TrainArgs train;

    @Spec
    CommandSpec spec;

    @Option(names = "--data", required = true, arity = "1..*", description = "training text: .txt, .jsonl, directories")
    List<String> data;

    @Option(names = "--eval-data", description = "held-out text (default: the last 2%% of --data)")
    String evalData;

    @Option(names = "--output", required = true, description = "output HF model directory")
    Path output;

    @Option(names = "--qat", defaultValue = "off", description = "off | seed:TAU | absmean | twn")
    String qat;

    @Option(names = "--resume", description = "continue the interrupted run in OUTPUT.partial")
    boolean resume;

    @Option(names = "--overwrite", description = "replace an existing output")
    boolean overwrite;

    @Override
    public Integer call() throws IOException {
        FineTuneSettings settings;
        try {
            settings = train.settings(qat);
        } catch (IllegalArgumentException e) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(), e.getMessage());
        }
        StringBuilder text = new StringBuilder();
        for (String d : data) {
            if (!text.isEmpty()) {
                text.append("\n\n");
            }
            text.append(TextFiles.read(Path.of(d)));
        }
        try (BitnetModel m = BitnetModel.load(model.model, common.options().withTrainable(true))) {
            int[] all = m.tokenize(text.toString());
            int[] trainIds;
            int[] evalIds;
            if (evalData != null) {
                trainIds = all;
                evalIds = m.tokenize(TextFiles.read(Path.of(evalData)));
            } else {
                int cut = (int) (all.length * 0.98);
                trainIds = Arrays.copyOfRange(all, 0, cut);
                evalIds = Arrays.copyOfRange(all, cut, all.length);
            }
            LOG.info(String.format("training on %,d tokens, evaluating on %,d", trainIds.length, evalIds.length));
            FineTuneResult r = m.fineTune(
                    trainIds, evalIds, settings, new FineTuneOutput(output, overwrite, resume, inputs()), null);
            Map<String, Object> o = new LinkedHashMap<>();
            o.put("output", output.toString());
            o.put("ppl_before", r.pplBefore());
            o.put("ppl_after", r.pplAfter());
            o.put("steps", r.steps());
            o.put("tokens_per_s", r.tokensPerSecond());
            o.put("seconds", r.seconds());
            o.put("eval_curve", r.evalCurve());
            o.put("restarts", r.restarts());
            if (common.json) {
                Outputs.printJson(o);
            } else {
                System.err.printf(
                        "finetune: perplexity %.3f -> %.3f in %d steps (%.0f tokens/s); wrote %s%n",
                        r.pplBefore(), r.pplAfter(), r.steps(), r.tokensPerSecond(), output);
            }
        }
        return 0;
    }

    /** What this run reads: the output may not be, contain or lie inside any of it. */
    private List<java.nio.file.Path> inputs() {
        List<java.nio.file.Path> in = new java.util.ArrayList<>();
        in.add(model.model);
        for (String d : data) {
            in.add(java.nio.file.Path.of(d));
        }
        return in;
    }
}
