package bitnet.engine.cli;

import bitnet.engine.model.Model;
import bitnet.engine.train.GradientFlow;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

@Command(
        name = "gradient-flow",
        description =
                "Forward + backward on token ids; reports parameters without gradient, NaN/Inf and suspicious norms (exit 4 on failure).")
public final class GradientFlowCmd implements Callable<Integer> {
    @Mixin
    Common common;

    @Mixin
    ModelArgs model;

    @Spec
    CommandSpec spec;

    @Option(names = "--ids", description = "token ids (default: the tokenized --text, or a fixed pattern)")
    String ids;

    @Option(names = "--text", description = "a text file to take the first tokens from")
    java.nio.file.Path text;

    @Override
    public Integer call() {
        try (Arena arena = Arena.ofShared();
                Model m = model.load(common.kernels(), arena, Model.Mode.TRAIN)) {
            Ids x;
            if (ids != null) {
                x = Ids.parse(spec.commandLine(), ids);
            } else {
                int[] tok;
                if (text != null) {
                    tok = PplCmd.tokensFor(TokenizerArgs.forModel(model.hfDir())::encode, text, 64);
                } else if (Files.exists(model.hfDir().resolve("tokenizer.json"))) {
                    tok = TokenizerArgs.forModel(model.hfDir())
                            .encode(
                                    "The quick brown fox jumps over the lazy dog. It was the best of times, it was the worst of times.");
                } else {
                    tok = new int[16];
                    for (int i = 0; i < tok.length; i++) {
                        tok[i] = (i * 7919 + 13) % m.cfg.vocabSize();
                    }
                }
                int T = Math.min(tok.length, Math.min(64, m.cfg.maxPositions()));
                x = new Ids(java.util.Arrays.copyOf(tok, T), 1, T);
            }
            GradientFlow.Report r = GradientFlow.check(m, x.flat(), x.B(), x.T());
            if (common.json) {
                Outputs.printJson(r.toMap());
            } else {
                System.err.println(
                        r.passed()
                                ? "gradient flow: passed (" + m.tensors().size() + " parameters, loss " + r.loss() + ")"
                                : "gradient flow: FAILED: " + String.join("; ", r.problems()));
            }
            if (!r.passed()) {
                throw new QualityGateException("gradient flow: " + String.join("; ", r.problems()));
            }
        }
        return 0;
    }
}
