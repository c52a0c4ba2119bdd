package bitnet.engine.cli;

import bitnet.engine.model.HfTensor;
import bitnet.engine.model.Model;
import bitnet.engine.train.FakeQuant;
import bitnet.engine.train.Grokfast;
import bitnet.engine.train.Optimizer;
import bitnet.engine.train.TrainSteps;
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
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

@Command(
        name = "train-steps",
        description = "N optimizer steps on one batch (constant lr, no clipping); writes loss [N] and param.<name>.")
public final class TrainStepsCmd implements Callable<Integer> {
    @Mixin
    Common common;

    @Mixin
    ModelArgs model;

    @Mixin
    IdsOut io;

    @Spec
    CommandSpec spec;

    @Option(names = "--steps", required = true, description = "number of optimizer steps")
    int steps;

    @Option(names = "--lr", defaultValue = "1e-3")
    float lr;

    @Option(names = "--weight-decay", defaultValue = "0.01")
    float weightDecay;

    @Option(names = "--betas", defaultValue = "0.9,0.999", split = ",")
    float[] betas;

    @Option(names = "--eps", defaultValue = "1e-8")
    float eps;

    @Option(names = "--grokfast", defaultValue = "off", description = "off | ema:ALPHA:LAMBDA | ma:WINDOW:LAMBDA")
    String grokfast;

    @Option(names = "--qat", defaultValue = "off", description = "off | seed:TAU | absmean | twn")
    String qat;

    @Override
    public Integer call() {
        if (steps < 1) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--steps must be >= 1");
        }
        if (betas.length != 2) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--betas takes two numbers: B1,B2");
        }
        Grokfast gf;
        FakeQuant fq;
        try {
            gf = Grokfast.parse(grokfast);
            fq = QuantSpecs.fakeQuant(qat);
        } catch (IllegalArgumentException e) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(), e.getMessage());
        }
        Ids x = io.prepare(spec.commandLine(), model.model);
        try (Arena arena = Arena.ofShared();
                Model m = model.load(common.kernels(), arena, Model.Mode.TRAIN)) {
            var s = new Optimizer.Settings(lr, weightDecay, betas[0], betas[1], eps, gf);
            float[] losses = TrainSteps.run(m, x.flat(), x.B(), x.T(), steps, s, fq);
            List<TensorData> res = new ArrayList<>();
            // the loss before the first step comes from the model alone; later ones from the settings too
            try {
                NonFiniteException.check("loss", losses[0]);
            } catch (NonFiniteException e) {
                throw model.nonFinite(e);
            }
            for (int i = 1; i < steps; i++) {
                if (!Float.isFinite(losses[i])) {
                    throw new NonFiniteException("training diverged: loss " + losses[i] + " at step " + i + " (lr " + lr
                            + ", betas " + betas[0] + "," + betas[1] + ", eps " + eps + "): lower --lr");
                }
            }
            res.add(TensorData.ofFloats("loss", losses, steps));
            for (HfTensor t : m.tensors().values()) {
                float[] p = m.getHf(t);
                for (float v : p) {
                    if (!Float.isFinite(v)) {
                        throw new NonFiniteException("training diverged: parameter " + t.name() + " holds " + v
                                + " after " + steps + " steps (lr " + lr + "): lower --lr");
                    }
                }
                res.add(TensorData.ofFloats("param." + t.name(), p, t.shape()));
            }
            Outputs.writeSafetensors(io.out, res, Map.of("grokfast", gf.toString(), "qat", qat));
            if (common.json) {
                Outputs.printJson(Map.of("out", io.out.toString(), "loss", losses));
            }
        }
        return 0;
    }
}
