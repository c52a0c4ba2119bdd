package bitnet.engine.cli;

import bitnet.engine.eval.Perplexity;
import bitnet.engine.model.Model;
import bitnet.io.tokenizer.Tokenizer;
import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "ppl", description = "Perplexity: the text tokenized as one string, non-overlapping windows of seq-len+1 tokens.")
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
        String s = TokenizeCmd.read(text);
        try (Arena arena = Arena.ofShared(); Model m = ModelRunner.open(model, common, arena)) {
            Tokenizer tok = TokenizerArgs.forModel(model.hfDir());
            int[] ids = tok.encode(s);
            if (Perplexity.windowsFor(ids.length, seqLen, windows) == 0) {
                // the text file is what is wrong: bad input (exit 3) naming it
                throw new bitnet.io.BadInputException(text, "text has " + ids.length + " tokens, fewer than one window of "
                        + (seqLen + 1) + " (--seq-len " + seqLen + ")");
            }
            long t0 = System.nanoTime();
            Perplexity.Result r = Perplexity.compute(m, ids, seqLen, windows, batch);
            double seconds = (System.nanoTime() - t0) / 1e9;
            Map<String, Object> o = new LinkedHashMap<>();
            o.put("ppl", r.ppl());
            o.put("tokens", r.tokens());
            o.put("windows", r.windows());
            o.put("mean_nll", r.meanNll());
            o.put("seconds", seconds); // forward passes only (the prefill rate of bench/llamacpp-check.sh)
            Outputs.printJson(o);
        }
        return 0;
    }
}
