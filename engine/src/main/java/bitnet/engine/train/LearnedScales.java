package bitnet.engine.train;

import bitnet.engine.model.HfTensor;
import bitnet.engine.model.Model;
import bitnet.engine.quant.QuantResult;
import bitnet.engine.quant.Quantizer;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Predicate;

/**
 * LSQ-style learned per-row scales (Esser et al., "Learned Step Size Quantization", with
 * Q_N = Q_P = 1): each target row r has its own scale s_r, started at the base quantizer's scale
 * (TWN: the per-row MSE-optimal one) and then trained on the task loss instead of being
 * recomputed from the weights each step. The codes are q = round(clamp(w / s_r, -1, 1)), so a
 * weight is kept iff |w| > s_r / 2, as TWN keeps it at its optimum; the forward uses s_r q.
 *
 * <p>The scale gradient uses the straight-through estimator on the rounding:
 * dŵ/ds = round(v) - v inside |v| < 1 and sign(v) outside (v = w / s), times LSQ's gradient scale
 * 1 / sqrt(cols); the scales take an Adam step of their own after each backward. The latent
 * weights keep the plain straight-through gradient. What is packed is {@link #quantize}: the
 * learned scales and these codes, so the packed and FP16 outputs are the forward's weights.
 */
public final class LearnedScales implements FakeQuant {
    private final Quantizer init;
    private final Predicate<String> isTarget;
    private final float lrRatio;
    // per target tensor, one entry per row: the scale and its Adam moments
    private final Map<String, float[]> scale = new ConcurrentHashMap<>();
    private final Map<String, float[]> m1 = new ConcurrentHashMap<>();
    private final Map<String, float[]> m2 = new ConcurrentHashMap<>();
    private int t;

    /**
     * @param init the quantizer whose scales start the learning (a per-tensor scale is copied to every row)
     * @param isTarget which tensors are quantized (others pass through unchanged)
     * @param lrRatio the scales' learning rate as a fraction of the weights'
     */
    public LearnedScales(Quantizer init, Predicate<String> isTarget, float lrRatio) {
        this.init = init;
        this.isTarget = isTarget;
        this.lrRatio = lrRatio;
    }

    @Override
    public float[] apply(String name, float[] w, int rows, int cols) {
        if (!isTarget.test(name)) {
            return w;
        }
        return quantize(name, w, rows, cols).dequantize();
    }

    /** Codes and (learned) per-row scales of one target: the packed form of what the forward uses. */
    public QuantResult quantize(String name, float[] w, int rows, int cols) {
        float[] s = scale.computeIfAbsent(name, n -> initial(n, w, rows, cols));
        byte[] q = new byte[w.length];
        for (int r = 0; r < rows; r++) {
            float inv = s[r] > 0 ? 1f / s[r] : 0f;
            for (int c = 0; c < cols; c++) {
                float v = (float) Math.rint(w[r * cols + c] * inv);
                q[r * cols + c] = (byte) Math.max(-1f, Math.min(1f, v));
            }
        }
        return new QuantResult(q, s.clone(), true);
    }

    private float[] initial(String name, float[] w, int rows, int cols) {
        QuantResult r = init.quantize(name, w, rows, cols);
        float[] s = new float[rows];
        for (int i = 0; i < rows; i++) {
            s[i] = r.scale()[r.perRow() ? i : 0];
        }
        m1.put(name, new float[rows]);
        m2.put(name, new float[rows]);
        return s;
    }

    /** One Adam step of every scale from the weight gradients of the last backward (lr: the weights' rate now). */
    @Override
    public void update(Model m, List<HfTensor> targets, float lr) {
        t++;
        final float b1 = 0.9f, b2 = 0.95f, eps = 1e-12f;
        double c1 = 1 - Math.pow(b1, t), c2 = 1 - Math.pow(b2, t);
        float step = (float) (lr * lrRatio * Math.sqrt(c2) / c1);
        for (HfTensor ht : targets) {
            float[] s = scale.get(ht.name());
            if (s == null) {
                continue; // not quantized yet (no forward since this tensor became a target)
            }
            float[] w = m.getHf(ht), g = m.gradHf(ht);
            float[] mm = m1.get(ht.name()), vv = m2.get(ht.name());
            int rows = s.length, cols = w.length / rows;
            double gradScale = 1 / Math.sqrt(cols);
            for (int r = 0; r < rows; r++) {
                if (!(s[r] > 0)) {
                    continue;
                }
                double gs = 0;
                float inv = 1f / s[r];
                for (int c = 0; c < cols; c++) {
                    float v = w[r * cols + c] * inv;
                    float d = Math.abs(v) >= 1f ? Math.signum(v) : (float) Math.rint(v) - v;
                    gs += (double) g[r * cols + c] * d;
                }
                float gr = (float) (gs * gradScale);
                mm[r] = b1 * mm[r] + (1 - b1) * gr;
                vv[r] = b2 * vv[r] + (1 - b2) * gr * gr;
                float ns = s[r] - step * mm[r] / ((float) Math.sqrt(vv[r]) + eps);
                s[r] = Math.max(ns, 1e-3f * s[r]); // a scale stays positive
            }
        }
    }
}
