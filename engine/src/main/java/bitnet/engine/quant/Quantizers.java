package bitnet.engine.quant;

import java.util.concurrent.ForkJoinPool;
import java.util.function.Function;
import java.util.stream.IntStream;

/**
 * The ternary rules behind {@link Quantizer#parse}. Means are accumulated in double and rounded to
 * FP32 once; comparisons and divisions that decide codes are done in FP32 as PyTorch does them on
 * FP32 tensors, so codes match the reference dumps exactly.
 *
 * <p>TWN is solved exactly rather than with the 0.7·mean|w| heuristic: for a fixed set of kept
 * weights the best scale is their (weighted) mean magnitude, and keeping w_j pays off iff
 * |w_j| > s/2 whatever its weight a_j, so the optimal kept set is always a top-k by |w|; we try
 * every k on the sorted magnitudes.
 */
final class Quantizers {
    private Quantizers() {}

    static final Quantizer ABSMEAN = new Quantizer() {
        @Override
        public String name() {
            return "absmean";
        }

        /**
         * BitNet b1.58 as its reference code does it: s = mean|W|; q = clamp(round_half_even(W * (1 / max(s, 1e-5))), -1, 1);
         * stored scale s. (Not W / (s + 1e-5): that flips codes of weights within 1e-5 of s/2, seen in the hf-tiny refs.)
         */
        @Override
        public QuantResult quantize(String tensorName, float[] w, int rows, int cols) {
            check(w, rows, cols);
            double sum = 0;
            for (float v : w) {
                sum += Math.abs(v);
            }
            float s = w.length == 0 ? 0f : (float) (sum / w.length);
            float inv = 1f / Math.max(s, 1e-5f);
            byte[] q = new byte[w.length];
            for (int i = 0; i < w.length; i++) {
                float v = (float) Math.rint(w[i] * inv);
                q[i] = (byte) Math.max(-1f, Math.min(1f, v));
            }
            return new QuantResult(q, new float[] {s}, false);
        }
    };

    static Quantizer seed(float tau, String spec) {
        return new Quantizer() {
            @Override
            public String name() {
                return spec;
            }

            /** Per row s = mean|w|; q = sign(w), 0 where |w| < tau*s. */
            @Override
            public QuantResult quantize(String tensorName, float[] w, int rows, int cols) {
                check(w, rows, cols);
                byte[] q = new byte[w.length];
                float[] scale = new float[rows];
                for (int r = 0; r < rows; r++) {
                    double sum = 0;
                    for (int c = 0; c < cols; c++) {
                        sum += Math.abs(w[r * cols + c]);
                    }
                    float s = cols == 0 ? 0f : (float) (sum / cols);
                    float thr = tau * s;
                    scale[r] = s;
                    for (int c = 0; c < cols; c++) {
                        float v = w[r * cols + c];
                        q[r * cols + c] = Math.abs(v) < thr ? 0 : (byte) Math.signum(v);
                    }
                }
                return new QuantResult(q, scale, true);
            }
        };
    }

    static final Quantizer TWN = new Quantizer() {
        @Override
        public String name() {
            return "twn";
        }

        @Override
        public QuantResult quantize(String tensorName, float[] w, int rows, int cols) {
            return twn(w, rows, cols, null);
        }
    };

    static Quantizer twnAw(Function<String, float[]> columnStats) {
        return new Quantizer() {
            @Override
            public String name() {
                return "twn-aw";
            }

            @Override
            public QuantResult quantize(String tensorName, float[] w, int rows, int cols) {
                float[] a = columnStats == null ? null : columnStats.apply(tensorName);
                if (a != null && a.length != cols) {
                    throw new IllegalArgumentException(
                            tensorName + ": " + a.length + " column statistics for " + cols + " columns");
                }
                return twn(w, rows, cols, a);
            }
        };
    }

    /**
     * Per row: sort |w| descending, and for each k the kept top-k gives s_k = Σ a|w| / Σ a and
     * error Σ a w² - (Σ a|w|)² / Σ a; keep the k with the least error (a = 1 without statistics).
     */
    static QuantResult twn(float[] w, int rows, int cols, float[] a) {
        check(w, rows, cols);
        if (a != null) {
            for (int j = 0; j < cols; j++) {
                if (!(a[j] >= 0f) || !Float.isFinite(a[j])) {
                    throw new IllegalArgumentException(
                            "column statistic " + j + " is " + a[j] + " (must be finite and >= 0)");
                }
            }
        }
        byte[] q = new byte[w.length];
        float[] scale = new float[rows];
        // rows are independent (a sort each: most of a streaming compression's time): row chunks
        // run on the common pool, each with its own sort buffer; the result does not depend on it
        int chunks =
                (long) rows * cols < (1 << 16) ? 1 : Math.min(rows, 4 * (ForkJoinPool.getCommonPoolParallelism() + 1));
        IntStream.range(0, chunks)
                .parallel()
                .forEach(ch -> twnRows(w, cols, a, q, scale, (int) ((long) rows * ch / chunks), (int)
                        ((long) rows * (ch + 1) / chunks)));
        return new QuantResult(q, scale, true);
    }

    /** {@link #twn} for rows [r0, r1). */
    private static void twnRows(float[] w, int cols, float[] a, byte[] q, float[] scale, int r0, int r1) {
        if (a == null) {
            twnRowsPlain(w, cols, q, scale, r0, r1);
            return;
        }
        long[] keys = new long[cols];
        for (int r = r0; r < r1; r++) {
            int base = r * cols;
            // sort column indices by |w| descending: |w| bits are order-preserving for non-negative floats
            for (int c = 0; c < cols; c++) {
                long mag = Float.floatToRawIntBits(Math.abs(w[base + c])) & 0x7fffffffL;
                keys[c] = ((0x7fffffffL - mag) << 32) | c;
            }
            java.util.Arrays.sort(keys, 0, cols);
            double num = 0, den = 0, bestGain = 0;
            int bestK = 0;
            for (int k = 1; k <= cols; k++) {
                int c = (int) keys[k - 1];
                double aj = a == null ? 1.0 : a[c];
                num += aj * Math.abs(w[base + c]);
                den += aj;
                double gain = den > 0 ? num * num / den : 0;
                if (gain > bestGain) {
                    bestGain = gain;
                    bestK = k;
                }
            }
            double n = 0, d = 0;
            for (int k = 0; k < bestK; k++) {
                int c = (int) keys[k];
                double aj = a == null ? 1.0 : a[c];
                n += aj * Math.abs(w[base + c]);
                d += aj;
                q[base + c] = (byte) Math.signum(w[base + c]);
            }
            scale[r] = d > 0 ? (float) (n / d) : 0f;
        }
    }

    /**
     * {@link #twnRows} without column statistics (a = 1), the same q and scales bit for bit: only the
     * magnitudes are sorted (as int bits, which order like the non-negative floats), not (magnitude,
     * column) keys, and the kept columns are found by one pass in column order against the
     * threshold magnitude, taking the lowest columns among those equal to it as the keys' order did.
     * The sums run over the same magnitudes in the same (descending) order. QAT training quantizes
     * every linear weight at every step: the sort of keys was 4% of a demo training step (Zen 4, 2
     * threads).
     */
    private static void twnRowsPlain(float[] w, int cols, byte[] q, float[] scale, int r0, int r1) {
        int[] mags = new int[cols];
        for (int r = r0; r < r1; r++) {
            int base = r * cols;
            for (int c = 0; c < cols; c++) {
                mags[c] = Float.floatToRawIntBits(w[base + c]) & 0x7fffffff;
            }
            java.util.Arrays.sort(mags, 0, cols);
            double num = 0, bestGain = 0, bestNum = 0;
            int bestK = 0;
            for (int k = 1; k <= cols; k++) {
                num += Float.intBitsToFloat(mags[cols - k]);
                double gain = num * num / k;
                if (gain > bestGain) {
                    bestGain = gain;
                    bestK = k;
                    bestNum = num;
                }
            }
            if (bestK == 0) {
                scale[r] = 0f;
                continue;
            }
            // ties: how many columns of magnitude t are kept (all of them in exact arithmetic, where
            // the gain is quasi-convex along a run of equal magnitudes; rounding could split one)
            int t = mags[cols - bestK], ties = 0;
            for (int i = cols - bestK; i < cols && mags[i] == t; i++) {
                ties++;
            }
            for (int c = 0; c < cols; c++) {
                int m = Float.floatToRawIntBits(w[base + c]) & 0x7fffffff;
                if (m > t || (m == t && ties-- > 0)) {
                    q[base + c] = (byte) Math.signum(w[base + c]);
                }
            }
            scale[r] = (float) (bestNum / bestK);
        }
    }

    private static void check(float[] w, int rows, int cols) {
        if (rows < 0 || cols < 0 || w.length != (long) rows * cols) {
            throw new IllegalArgumentException(w.length + " weights for (" + rows + ", " + cols + ")");
        }
    }
}
