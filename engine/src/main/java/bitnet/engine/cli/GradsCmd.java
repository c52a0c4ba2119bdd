package bitnet.engine.cli;

import bitnet.api.BitnetModel;
import bitnet.api.Gradients;
import bitnet.api.NamedTensor;
import bitnet.engine.util.NonFiniteException;
import bitnet.io.TensorData;
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
        try (BitnetModel m = BitnetModel.load(model.model, common.options().withTrainable(true))) {
            List<TensorData> res = new ArrayList<>();
            double l;
            try {
                Gradients g = m.gradients(x.flat(), x.B(), x.T());
                l = NonFiniteException.check("loss", g.loss());
                res.add(TensorData.ofFloats("loss", new float[] {(float) l}, 1));
                for (NamedTensor t : g.gradients()) {
                    NonFiniteException.check("grad." + t.name(), t.values(), t.values().length);
                    res.add(TensorData.ofFloats("grad." + t.name(), t.values(), t.shape()));
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
