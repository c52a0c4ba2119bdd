package bitnet.engine.train;

import bitnet.engine.model.Model;
import bitnet.engine.model.Param;
import java.util.ArrayList;
import java.util.List;

/**
 * N optimizer steps on one fixed batch, constant learning rate, no clipping: the
 * {@code train-steps} subcommand and the reference-trajectory tests.
 */
public final class TrainSteps {
    private TrainSteps() {}

    /** Every parameter with an FP32 latent (all of them in TRAIN mode). */
    public static List<Param> trainable(Model m) {
        List<Param> ps = new ArrayList<>();
        for (Param p : m.params()) {
            if (p.value != null) {
                ps.add(p);
            }
        }
        return ps;
    }

    /** Returns the loss before each step. */
    public static float[] run(Model m, int[] ids, int B, int T, int steps, Optimizer.Settings s, FakeQuant fq) {
        return run(m, ids, B, T, steps, s, fq, null);
    }

    /** {@link #run}, with each step's wall time (quantization to optimizer step) into stepNanos (may be null). */
    public static float[] run(
            Model m, int[] ids, int B, int T, int steps, Optimizer.Settings s, FakeQuant fq, long[] stepNanos) {
        int[] targets = Model.shiftedTargets(ids, B, T);
        Qat qat = fq == null ? null : new Qat(m, fq);
        float[] losses = new float[steps];
        try (Optimizer opt = new Optimizer(m.k, trainable(m), s)) {
            for (int i = 0; i < steps; i++) {
                long t0 = System.nanoTime();
                if (qat != null) {
                    qat.quantize();
                }
                m.zeroGrad();
                losses[i] = (float) m.loss(ids, targets, B, T, true);
                opt.filter();
                opt.step(s.lr());
                if (stepNanos != null) {
                    stepNanos[i] = System.nanoTime() - t0;
                }
            }
        } finally {
            if (qat != null) {
                qat.release();
            }
        }
        return losses;
    }
}
