package bitnet.engine.cli;

import bitnet.engine.model.HfTensor;
import bitnet.engine.model.Model;
import bitnet.engine.util.NonFiniteException;
import bitnet.io.TensorData;
import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

@Command(
        name = "grads",
        description = "Forward + backward of the next-token loss; writes loss and grad.<name> for every parameter.")
public final class GradsCmd implements Callable<Integer> {
    @Mixin
    Common common;

    @Mixin
    ModelArgs model;

    @Mixin
    IdsOut io;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        Ids x = io.prepare(spec.commandLine(), model.model);
        try (Arena arena = Arena.ofShared();
                Model m = model.load(common.kernels(), arena, Model.Mode.TRAIN)) {
            List<TensorData> res = new ArrayList<>();
            double l;
            try {
                l = NonFiniteException.check(
                        "loss", m.loss(x.flat(), Model.shiftedTargets(x.flat(), x.B(), x.T()), x.B(), x.T(), true));
                res.add(TensorData.ofFloats("loss", new float[] {(float) l}, 1));
                for (HfTensor t : m.tensors().values()) {
                    float[] g = m.gradHf(t);
                    NonFiniteException.check("grad." + t.name(), g, g.length);
                    res.add(TensorData.ofFloats("grad." + t.name(), g, t.shape()));
                }
            } catch (NonFiniteException e) {
                throw model.nonFinite(e);
            }
            Outputs.writeSafetensors(io.out, res, Map.of());
            if (common.json) {
                Outputs.printJson(Map.of("out", io.out.toString(), "loss", l));
            }
        }
        return 0;
    }
}
