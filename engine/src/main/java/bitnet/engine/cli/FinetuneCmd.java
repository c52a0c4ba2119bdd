package bitnet.engine.cli;

import bitnet.engine.data.TextData;
import bitnet.engine.model.HfWriter;
import bitnet.engine.model.Model;
import bitnet.engine.train.FakeQuant;
import bitnet.engine.train.TrainConfig;
import bitnet.engine.train.Trainer;
import bitnet.engine.util.MetricsLog;
import bitnet.engine.util.OutputDir;
import bitnet.io.DType;
import bitnet.io.tokenizer.Tokenizer;
import java.io.IOException;
import java.lang.foreign.Arena;
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
        TrainConfig cfg;
        FakeQuant fq;
        try {
            cfg = train.config();
            fq = QuantSpecs.fakeQuant(qat);
        } catch (IllegalArgumentException e) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(), e.getMessage());
        }
        StringBuilder text = new StringBuilder();
        for (String d : data) {
            if (!text.isEmpty()) {
                text.append("\n\n");
            }
            text.append(TextData.read(Path.of(d)));
        }
        try (OutputDir out =
                        OutputDir.begin(output, overwrite, resume, inputs()).resumable();
                Arena arena = Arena.ofShared();
                Model m = model.load(common.kernels(), arena, Model.Mode.TRAIN)) {
            Tokenizer tok = TokenizerArgs.forModel(model.hfDir());
            int[] all = tok.encode(text.toString());
            int[] trainIds;
            int[] evalIds;
            if (evalData != null) {
                trainIds = all;
                evalIds = tok.encode(TextData.read(Path.of(evalData)));
            } else {
                int cut = (int) (all.length * 0.98);
                trainIds = Arrays.copyOfRange(all, 0, cut);
                evalIds = Arrays.copyOfRange(all, cut, all.length);
            }
            LOG.info(String.format("training on %,d tokens, evaluating on %,d", trainIds.length, evalIds.length));
            Result r;
            try (MetricsLog metrics = new MetricsLog(out.dir().resolve("metrics.jsonl"), resume)) {
                Trainer t = new Trainer(
                        m, fq, cfg, trainIds, evalIds, metrics, out.dir().resolve("checkpoint"));
                double before = resume ? Double.NaN : t.evaluate().ppl();
                Trainer.Result tr = t.run(resume);
                double after = t.evaluate().ppl();
                metrics.log(
                        "final",
                        "ppl_before",
                        before,
                        "ppl_after",
                        after,
                        "steps",
                        tr.steps(),
                        "tokens_per_s",
                        tr.tokensPerSecond());
                HfWriter.write(
                        m,
                        model.hfDir(),
                        out.dir(),
                        DType.F32,
                        t.qat() == null ? null : h -> quantizedOrLatent(m, h),
                        Map.of("format", "pt"));
                r = new Result(before, after, tr);
            }
            OutputDir.deleteTree(out.dir().resolve("checkpoint"));
            out.commit();
            Map<String, Object> o = new LinkedHashMap<>();
            o.put("output", output.toString());
            o.put("ppl_before", r.before);
            o.put("ppl_after", r.after);
            o.put("steps", r.tr.steps());
            o.put("tokens_per_s", r.tr.tokensPerSecond());
            o.put("seconds", r.tr.seconds());
            o.put("eval_curve", r.tr.evalCurve());
            o.put("restarts", r.tr.restarts());
            if (common.json) {
                Outputs.printJson(o);
            } else {
                System.err.printf(
                        "finetune: perplexity %.3f -> %.3f in %d steps (%.0f tokens/s); wrote %s%n",
                        r.before, r.after, r.tr.steps(), r.tr.tokensPerSecond(), output);
            }
        }
        return 0;
    }

    private record Result(double before, double after, Trainer.Result tr) {}

    /** What this run reads: the output may not be, contain or lie inside any of it. */
    private List<java.nio.file.Path> inputs() {
        List<java.nio.file.Path> in = new java.util.ArrayList<>();
        in.add(model.model);
        for (String d : data) {
            in.add(java.nio.file.Path.of(d));
        }
        return in;
    }

    /** Under QAT the output holds the weights the model was evaluated with: the quantized ones. */
    static float[] quantizedOrLatent(Model m, bitnet.engine.model.HfTensor t) {
        var p0 = t.parts().get(0);
        if (p0.quantized == null) {
            return m.getHf(t);
        }
        return t.gather(m.k, p -> p.quantized);
    }
}
