package bitnet.engine.cli;

import bitnet.api.BitnetModel;
import bitnet.api.Sampling;
import bitnet.api.TextTokenizer;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

@Command(
        name = "generate",
        description = "Autoregressive generation with a KV cache (greedy, or temperature + top-p with a seed).")
public final class GenerateCmd implements Callable<Integer> {
    @Mixin
    Common common;

    @Mixin
    ModelArgs model;

    @Spec
    CommandSpec spec;

    @Option(names = "--prompt", description = "prompt text (tokenized with the model's tokenizer)")
    String prompt;

    @Option(names = "--ids", description = "prompt token ids (rows separated by ';')")
    String ids;

    @Option(names = "--max-new", required = true, description = "tokens to generate")
    int maxNew;

    @Option(names = "--greedy", description = "argmax decoding (the default without --temperature)")
    boolean greedy;

    @Option(names = "--temperature", description = "sampling temperature")
    Double temperature;

    @Option(names = "--top-p", defaultValue = "1.0", description = "nucleus sampling mass")
    double topP;

    @Option(names = "--seed", defaultValue = "0")
    long seed;

    @Option(names = "--ignore-eos", description = "do not stop at the end-of-sequence token")
    boolean ignoreEos;

    @Override
    public Integer call() {
        if ((prompt == null) == (ids == null)) {
            throw new picocli.CommandLine.ParameterException(
                    spec.commandLine(), "give exactly one of --prompt or --ids");
        }
        if (maxNew < 0) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--max-new must be >= 0");
        }
        if (greedy && temperature != null) {
            throw new picocli.CommandLine.ParameterException(
                    spec.commandLine(), "--greedy and --temperature exclude each other");
        }
        Sampling sampling = temperature == null ? Sampling.greedyDecoding() : Sampling.random(temperature, topP, seed);
        // the tokenizer loads on a second thread while the weights load (Background)
        java.util.concurrent.CompletableFuture<TextTokenizer> tokenizer = Background.supply(
                () -> Files.exists(BitnetModel.hfDir(model.model).resolve("tokenizer.json")) || prompt != null
                        ? BitnetModel.loadTokenizer(model.model)
                        : null);
        try (BitnetModel m = BitnetModel.load(model.model, common.options())) {
            TextTokenizer tok = tokenizer.join();
            List<int[]> prompts = new ArrayList<>();
            if (prompt != null) {
                prompts.add(tok.encode(prompt));
            } else {
                Ids x = Ids.parse(spec.commandLine(), ids);
                for (int b = 0; b < x.B(); b++) {
                    prompts.add(x.row(b));
                }
            }
            List<int[]> outs = new ArrayList<>();
            try {
                for (int[] p : prompts) {
                    outs.add(m.generate(p, maxNew, sampling, !ignoreEos, null));
                }
            } catch (bitnet.engine.util.NonFiniteException e) {
                throw model.nonFinite(e);
            }
            Map<String, Object> o = new LinkedHashMap<>();
            if (outs.size() == 1) {
                o.put("ids", outs.get(0));
                o.put("text", tok == null ? null : tok.decode(outs.get(0)));
            } else {
                o.put("ids", outs);
                List<String> texts = new ArrayList<>();
                for (int[] r : outs) {
                    texts.add(tok == null ? null : tok.decode(r));
                }
                o.put("text", texts);
            }
            Outputs.printJson(o);
        }
        return 0;
    }
}
