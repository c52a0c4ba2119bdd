package bitnet.engine.cli;

import bitnet.api.BitnetModel;
import bitnet.api.PerplexityResult;
import bitnet.api.TextFiles;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(
        name = "ppl",
        description = "Perplexity: the text tokenized as one string, non-overlapping windows of seq-len+1 tokens.")
public final class PplCmd implements Callable<Integer> {
    @Mixin
    Common common;

    @Mixin
    ModelArgs model;

    @Option(names = "--text", required = true, description = "UTF-8 text file")
    Path text;

    @Option(names = "--seq-len", defaultValue = "256")
    int seqLen;

    @Option(names = "--windows", defaultValue = "64")
    int windows;

    @Option(names = "--batch", defaultValue = "8", description = "windows per forward pass")
    int batch;

    @Override
    public Integer call() {
        if (seqLen < 1 || windows < 1 || batch < 1) {
            throw new IllegalArgumentException("--seq-len, --windows and --batch must be >= 1");
        }
        if (!java.nio.file.Files.isRegularFile(text)) {
            throw new bitnet.io.BadInputException(
                    text, java.nio.file.Files.exists(text) ? "not a regular file" : "file not found");
        }
        // the text is tokenized on a second thread while the weights load (each is ~0.3-0.5 s of
        // a cold one-window run); a model error is still the one reported when both are bad
        CompletableFuture<int[]> tokens = Background.supply(() -> TextFiles.firstTokens(
                BitnetModel.loadTokenizer(model.model)::encode, text, (long) windows * seqLen + 1));
        try (BitnetModel m = BitnetModel.load(model.model, common.options())) {
            int[] ids = tokens.join();
            if (ids.length < seqLen + 1) {
                // the text file is what is wrong: bad input (exit 3) naming it
                throw new bitnet.io.BadInputException(
                        text,
                        "text has " + ids.length + " tokens, fewer than one window of " + (seqLen + 1) + " (--seq-len "
                                + seqLen + ")");
            }
            PerplexityResult r;
            long t0 = System.nanoTime();
            try {
                r = m.perplexity(ids, seqLen, windows, batch);
            } catch (bitnet.engine.util.NonFiniteException e) {
                throw model.nonFinite(e);
            }
            double seconds = (System.nanoTime() - t0) / 1e9;
            Map<String, Object> o = new LinkedHashMap<>();
            o.put("ppl", r.perplexity());
            o.put("tokens", r.tokens());
            o.put("windows", r.windows());
            o.put("mean_nll", r.meanNll());
            o.put("seconds", seconds); // forward passes only (the prefill rate of bench/llamacpp-check.sh)
            Outputs.printJson(o);
        }
        return 0;
    }
}
