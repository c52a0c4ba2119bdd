package bitnet.kernels.ternary;

/**
 * Scalar twins of {@link TernaryWeight}'s kernels: plain loops over {@link TernaryWeight#q}, the
 * test oracle and the benchmarks' agreement check. Same arithmetic contract (sums of ±x, scale once
 * per row; the A8 variant is bit-exact with the vector one because its sums are integers), but
 * sequential and slow. Not for production use.
 */
public final class TernaryScalar {
    private TernaryScalar() {}

    /** out (N, OC) = inp (N, C) · Wᵀ + bias, FP32 activations. */
    public static void matmul(TernaryWeight w, float[] out, float[] inp, float[] bias, int N, int C, int OC) {
        for (int n = 0; n < N; n++) {
            for (int r = 0; r < OC; r++) {
                float s = 0f;
                for (int c = 0; c < C; c++) {
                    int q = w.q(r, c);
                    if (q > 0) {
                        s += inp[n * C + c];
                    } else if (q < 0) {
                        s -= inp[n * C + c];
                    }
                }
                out[n * OC + r] = s * w.scale(r) + (bias == null ? 0f : bias[r]);
            }
        }
    }

    /** W1.58A8: per-row absmax int8 activations, integer sums, rescale per row. */
    public static void matmulA8(TernaryWeight w, float[] out, float[] inp, float[] bias, int N, int C, int OC) {
        for (int n = 0; n < N; n++) {
            float amax = 0f;
            for (int c = 0; c < C; c++) {
                amax = Math.max(amax, Math.abs(inp[n * C + c]));
            }
            amax = Math.max(amax, 1e-5f);
            float k = 127f / amax;
            int[] xq = new int[C];
            for (int c = 0; c < C; c++) {
                xq[c] = (int) Math.max(-128f, Math.min(127f, (float) Math.rint(inp[n * C + c] * k)));
            }
            float xs = amax / 127f;
            for (int r = 0; r < OC; r++) {
                int acc = 0;
                for (int c = 0; c < C; c++) {
                    acc += w.q(r, c) * xq[c];
                }
                out[n * OC + r] = acc * w.scale(r) * xs + (bias == null ? 0f : bias[r]);
            }
        }
    }

    /** dinp (N, C) += dout (N, OC) · W. */
    public static void matmulBackwardInput(TernaryWeight w, float[] dinp, float[] dout, int N, int C, int OC) {
        for (int n = 0; n < N; n++) {
            for (int c = 0; c < C; c++) {
                float s = 0f;
                for (int r = 0; r < OC; r++) {
                    int q = w.q(r, c);
                    float g = dout[n * OC + r] * w.scale(r);
                    if (q > 0) {
                        s += g;
                    } else if (q < 0) {
                        s -= g;
                    }
                }
                dinp[n * C + c] += s;
            }
        }
    }
}
