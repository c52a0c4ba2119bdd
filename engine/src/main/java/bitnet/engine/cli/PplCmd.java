package bitnet.engine.cli;

import bitnet.api.BitnetModel;
import bitnet.api.PerplexityResult;
import bitnet.engine.data.TextData;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
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
        try (BitnetModel m = BitnetModel.load(model.model, common.options())) {
            int[] ids = tokensFor(m.tokenizer()::encode, text, (long) windows * seqLen + 1);
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

    /** Tokens dropped from the end of a cut prefix: a post-processor's end token and any piece the cut changed. */
    private static final int MARGIN = 16;

    /**
     * The first tokens of the file, as many as the windows need, without reading or tokenizing the
     * rest: a prefix cut at a pre-token boundary ({@link TextData#cutPoint}) tokenizes as the
     * whole text does up to the cut, so the windows are the same. The prefix grows 4x until it
     * holds enough tokens, the file ends, or it reaches {@link TextData#maxTextChars()}.
     */
    static int[] tokensFor(java.util.function.Function<String, int[]> tok, Path file, long need) {
        int limit = TextData.maxTextChars();
        long chars = Math.max(1 << 16, need * 8);
        while (true) {
            int n = (int) Math.min(chars, limit);
            TextData.Prefix p = TextData.readPrefix(file, n);
            if (p.complete()) {
                return tok.apply(p.text());
            }
            String s = p.text();
            int[] ids = tok.apply(s.substring(0, TextData.cutPoint(s)));
            int keep = Math.max(0, ids.length - MARGIN);
            if (keep >= need || n >= limit) {
                if (keep < need) {
                    java.util.logging.Logger.getLogger("bitnet")
                            .warning(file + ": scoring the first " + n
                                    + " characters only (the text limit of this heap)");
                }
                return java.util.Arrays.copyOf(ids, keep);
            }
            chars *= 4;
        }
    }
}
