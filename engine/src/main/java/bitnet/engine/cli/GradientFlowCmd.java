package bitnet.engine.cli;

import bitnet.api.BitnetModel;
import bitnet.api.GradientFlowResult;
import bitnet.api.TextFiles;
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
        try (BitnetModel m = BitnetModel.load(model.model, common.options().withTrainable(true))) {
            Ids x;
            if (ids != null) {
                x = Ids.parse(spec.commandLine(), ids);
            } else {
                int[] tok;
                if (text != null) {
                    tok = TextFiles.firstTokens(m::tokenize, text, 64);
                } else if (Files.exists(BitnetModel.hfDir(model.model).resolve("tokenizer.json"))) {
                    tok = m.tokenize(
                            "The quick brown fox jumps over the lazy dog. It was the best of times, it was the worst of times.");
                } else {
                    tok = new int[16];
                    for (int i = 0; i < tok.length; i++) {
                        tok[i] = (i * 7919 + 13) % m.vocabSize();
                    }
                }
                int T = Math.min(tok.length, Math.min(64, m.maxPositions()));
                x = new Ids(java.util.Arrays.copyOf(tok, T), 1, T);
            }
            GradientFlowResult r = m.gradientFlow(x.flat(), x.B(), x.T());
            if (common.json) {
                Outputs.printJson(r.toMap());
            } else {
                System.err.println(
                        r.passed()
                                ? "gradient flow: passed (" + r.parameters().size() + " parameters, loss " + r.loss()
                                        + ")"
                                : "gradient flow: FAILED: " + String.join("; ", r.problems()));
            }
            if (!r.passed()) {
                throw new QualityGateException("gradient flow: " + String.join("; ", r.problems()));
            }
        }
        return 0;
    }
}
