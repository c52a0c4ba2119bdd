package bitnet.engine.cli;

import bitnet.api.BitnetModel;
import bitnet.api.NamedTensor;
import bitnet.api.StepSettings;
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
        StepSettings s;
        try {
            s = new StepSettings(lr, weightDecay, betas[0], betas[1], eps, grokfast, qat);
        } catch (IllegalArgumentException e) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(), e.getMessage());
        }
        Ids x = io.prepare(spec.commandLine(), model.model);
        try (BitnetModel m = BitnetModel.load(model.model, common.options().withTrainable(true))) {
            float[] losses = m.trainSteps(x.flat(), x.B(), x.T(), steps, s);
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
            for (NamedTensor t : m.parameters()) {
                float[] p = t.values();
                for (float v : p) {
                    if (!Float.isFinite(v)) {
                        throw new NonFiniteException("training diverged: parameter " + t.name() + " holds " + v
                                + " after " + steps + " steps (lr " + lr + "): lower --lr");
                    }
                }
                res.add(TensorData.ofFloats("param." + t.name(), p, t.shape()));
            }
            Outputs.writeSafetensors(io.out, res, Map.of("grokfast", s.grokfast(), "qat", qat));
            if (common.json) {
                Outputs.printJson(Map.of("out", io.out.toString(), "loss", losses));
            }
        }
        return 0;
    }
}
