package bitnet.kernels.cpu;

import static bitnet.kernels.cpu.VectorMath.axpy;
import static bitnet.kernels.cpu.VectorMath.dot;

/**
 * Causal attention for {@link VectorKernels}: the loops of {@link ScalarKernels#attention} with
 * vectorized dot products and axpys over HS, multi-threaded over (b, h) forward and over
 * (b, KV head) backward (a KV head's dk, dv belong to one task, so no two threads write the same
 * row, and contributions arrive in the scalar order). Softmax stays scalar with Math.exp and a
 * double sum, as in the reference. It materializes the (T, TK) probabilities because training
 * keeps them; it is not a flash kernel.
 */
final class VectorAttention {
    private VectorAttention() {
    }

    static void forward(Parallel par, float[] o, float[] p, float[] qa, float[] ka, float[] va,
                        int B, int T, int TK, int NH, int NKV, int HS, int window) {
        float scale = (float) (1.0 / Math.sqrt(HS));
        int g = NH / NKV;
        par.forTasks(B * NH, bh -> {
            int b = bh / NH, h = bh % NH, kvh = h / g;
            float[] row = new float[TK]; // per-task scratch
            for (int t = 0; t < T; t++) {
                int qpos = TK - T + t;
                int lo = window > 0 ? Math.max(0, qpos - window + 1) : 0;
                int qoff = ((b * T + t) * NH + h) * HS;
                float max = Float.NEGATIVE_INFINITY;
                for (int j = lo; j <= qpos; j++) {
                    float s = dot(qa, qoff, ka, ((b * TK + j) * NKV + kvh) * HS, HS) * scale;
                    row[j] = s;
                    max = Math.max(max, s);
                }
                double sum = 0;
                for (int j = lo; j <= qpos; j++) {
                    float e = (float) Math.exp(row[j] - max);
                    row[j] = e;
                    sum += e;
                }
                float inv = (float) (1.0 / sum);
                java.util.Arrays.fill(o, qoff, qoff + HS, 0f);
                int prow = ((b * NH + h) * T + t) * TK;
                if (p != null) {
                    java.util.Arrays.fill(p, prow, prow + lo, 0f);
                    if (qpos + 1 < TK) {
                        java.util.Arrays.fill(p, prow + qpos + 1, prow + TK, 0f);
                    }
                }
                for (int j = lo; j <= qpos; j++) {
                    float pj = row[j] * inv;
                    if (p != null) {
                        p[prow + j] = pj;
                    }
                    if (pj != 0f) {
                        axpy(o, qoff, va, ((b * TK + j) * NKV + kvh) * HS, HS, pj);
                    }
                }
            }
        });
    }

    static void backward(Parallel par, float[] dqa, float[] dka, float[] dva, float[] d, float[] p,
                         float[] qa, float[] ka, float[] va, int B, int T, int NH, int NKV, int HS) {
        float scale = (float) (1.0 / Math.sqrt(HS));
        int g = NH / NKV;
        par.forTasks(B * NKV, bk -> {
            int b = bk / NKV, kvh = bk % NKV;
            float[] datt = new float[T]; // per-task scratch
            for (int h = kvh * g; h < (kvh + 1) * g; h++) {
                for (int t = 0; t < T; t++) {
                    int qoff = ((b * T + t) * NH + h) * HS;
                    int prow = ((b * NH + h) * T + t) * T;
                    double dotp = 0;
                    for (int j = 0; j <= t; j++) {
                        int voff = ((b * T + j) * NKV + kvh) * HS;
                        float s = dot(d, qoff, va, voff, HS);
                        float pj = p[prow + j];
                        axpy(dva, voff, d, qoff, HS, pj);
                        datt[j] = s;
                        dotp += (double) pj * s;
                    }
                    float dotf = (float) dotp;
                    for (int j = 0; j <= t; j++) {
                        float dpre = p[prow + j] * (datt[j] - dotf) * scale;
                        if (dpre == 0f) {
                            continue;
                        }
                        int koff = ((b * T + j) * NKV + kvh) * HS;
                        axpy(dqa, qoff, ka, koff, HS, dpre);
                        axpy(dka, koff, qa, qoff, HS, dpre);
                    }
                }
            }
        });
    }
}
