package bitnet.engine.cli;

import bitnet.api.BitnetModel;
import bitnet.engine.util.NonFiniteException;
import bitnet.io.TensorData;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

@Command(
        name = "logits",
        description = "One causal forward pass; writes logits F32 [B,T,V] (and the loss with --loss).")
public final class LogitsCmd implements Callable<Integer> {
    @Mixin
    Common common;

    @Mixin
    ModelArgs model;

    @Mixin
    IdsOut io;

    @Spec
    CommandSpec spec;

    @Option(names = "--loss", description = "also write the mean next-token cross-entropy")
    boolean loss;

    @Override
    public Integer call() {
        Ids x = io.prepare(spec.commandLine(), model.model);
        try (BitnetModel m = BitnetModel.load(model.model, common.options())) {
            int V = m.vocabSize();
            List<TensorData> res = new ArrayList<>();
            float[] logits;
            try {
                if (loss) {
                    double l = m.loss(x.flat(), x.B(), x.T());
                    res.add(TensorData.ofFloats("loss", new float[] {(float) NonFiniteException.check("loss", l)}, 1));
                }
                logits = m.logits(x.flat(), x.B(), x.T());
                NonFiniteException.check("logits", logits, logits.length);
            } catch (NonFiniteException e) {
                throw model.nonFinite(e);
            }
            res.add(TensorData.ofFloats("logits", logits, x.B(), x.T(), V));
            Outputs.writeSafetensors(io.out, res, Map.of());
            if (common.json) {
                Outputs.printJson(Map.of("out", io.out.toString(), "shape", new int[] {x.B(), x.T(), V}));
            }
        }
        return 0;
    }
}
