package bitnet.engine.cli;

import bitnet.api.BitnetModel;
import bitnet.api.PerplexityResult;
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
        try (BitnetModel m = BitnetModel.load(model.model, common.options())) {
            int[] ids = m.tokenize(s);
            if (ids.length < seqLen + 1) {
                // the text file is what is wrong: bad input (exit 3) naming it
                throw new bitnet.io.BadInputException(text, "text has " + ids.length + " tokens, fewer than one window of "
                        + (seqLen + 1) + " (--seq-len " + seqLen + ")");
            }
            PerplexityResult r = m.perplexity(ids, seqLen, windows, batch);
            Map<String, Object> o = new LinkedHashMap<>();
            o.put("ppl", r.perplexity());
            o.put("tokens", r.tokens());
            o.put("windows", r.windows());
            o.put("mean_nll", r.meanNll());
            Outputs.printJson(o);
        }
        return 0;
    }
}
