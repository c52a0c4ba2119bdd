package bitnet.kernels.cpu;

import static bitnet.kernels.cpu.VectorMath.L;
import static bitnet.kernels.cpu.VectorMath.S;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

/**
 * Causal attention for {@link VectorKernels}, the semantics of {@link ScalarKernels#attention}
 * (KV cache TK > T, GQA, sliding window, the probabilities cache) restructured for vectors:
 * K (and V in backward) is transposed per head into (HS, TK) scratch so a row of scores is
 * broadcast-FMAs over HS for L keys at a time (no horizontal reductions), and weighted sums of
 * rows (P·V, dS·K, Pᵀ·dO, dSᵀ·Q) keep up to 4 vectors of HS in registers. The forward softmax uses
 * DetMath.exp in float lanes (the reference: Math.exp and a double sum), which
 * dominated the time otherwise. Threads take (b, h) forward and
 * (b, KV head) backward, so each dk, dv row has one writer. Training keeps the (T, TK)
 * probabilities; without them (att == null) only one score row per head exists at a time.
 */
final class VectorAttention {
    private VectorAttention() {
    }

    /** Per-thread scratch that grows and is reused; callers overwrite what they read. */
    private static final ThreadLocal<float[][]> SCRATCH = ThreadLocal.withInitial(() -> new float[3][0]);

    private static float[] scratch(int slot, int n) {
        float[][] s = SCRATCH.get();
        if (s[slot].length < n) {
            s[slot] = new float[n];
        }
        return s[slot];
    }

    static int pad(int n) {
        return (n + L - 1) / L * L;
    }

    /** dst (HS, np) = rows of src (rows n at base + j*stride, HS floats each) transposed; np = pad(n). */
    private static void transpose(float[] dst, float[] src, int base, int stride, int n, int HS) {
        int np = pad(n);
        for (int j = 0; j < n; j++) {
            int s = base + j * stride;
            for (int i = 0; i < HS; i++) {
                dst[i * np + j] = src[s + i];
            }
        }
        for (int i = 0; i < HS; i++) {
            java.util.Arrays.fill(dst, i * np + n, i * np + np, 0f);
        }
    }

    /**
     * row[j] = Σ_i x[xo+i] * kt[i*np + j] for the vector blocks covering [lo, hi]: four blocks of L
     * keys per pass share each broadcast of x[i] and keep four independent FMA chains.
     */
    private static void scores(float[] row, float[] x, int xo, float[] kt, int np, int HS, int lo, int hi) {
        int j = lo / L * L;
        for (; j + 3 * L <= hi; j += 4 * L) {
            FloatVector a0 = FloatVector.zero(S), a1 = a0, a2 = a0, a3 = a0;
            for (int i = 0; i < HS; i++) {
                FloatVector xv = FloatVector.broadcast(S, x[xo + i]);
                int k = i * np + j;
                a0 = FloatVector.fromArray(S, kt, k).fma(xv, a0);
                a1 = FloatVector.fromArray(S, kt, k + L).fma(xv, a1);
                a2 = FloatVector.fromArray(S, kt, k + 2 * L).fma(xv, a2);
                a3 = FloatVector.fromArray(S, kt, k + 3 * L).fma(xv, a3);
            }
            a0.intoArray(row, j);
            a1.intoArray(row, j + L);
            a2.intoArray(row, j + 2 * L);
            a3.intoArray(row, j + 3 * L);
        }
        for (; j <= hi; j += L) {
            FloatVector a0 = FloatVector.zero(S);
            for (int i = 0; i < HS; i++) {
                a0 = FloatVector.fromArray(S, kt, i * np + j).fma(FloatVector.broadcast(S, x[xo + i]), a0);
            }
            a0.intoArray(row, j);
        }
    }

    /**
     * dst[doff .. doff+HS) (+)= Σ_{j in [lo, hi]} coef[cOff + j*cStride] * src[sBase + j*sStride ..],
     * up to four full vectors of HS at a time held in registers, then a scalar tail (no masks:
     * masked loads were far slower here).
     */
    private static void accum(float[] dst, int doff, boolean add, float[] coef, int cOff, int cStride, int lo, int hi,
                              float[] src, int sBase, int sStride, int HS) {
        int full = HS / L * L;
        int i0 = 0;
        for (; i0 + 2 * L <= full; ) {
            int nv = Math.min(4, (full - i0) / L);
            FloatVector a0 = FloatVector.zero(S), a1 = a0, a2 = a0, a3 = a0;
            FloatVector b0 = a0, b1 = a0, b2 = a0, b3 = a0;
            int j = lo;
            // two j per pass into separate accumulators: twice the independent FMA chains
            for (; j < hi; j += 2) {
                FloatVector pv = FloatVector.broadcast(S, coef[cOff + j * cStride]);
                FloatVector qv = FloatVector.broadcast(S, coef[cOff + (j + 1) * cStride]);
                int s = sBase + j * sStride + i0, s2 = s + sStride;
                a0 = FloatVector.fromArray(S, src, s).fma(pv, a0);
                b0 = FloatVector.fromArray(S, src, s2).fma(qv, b0);
                a1 = FloatVector.fromArray(S, src, s + L).fma(pv, a1);
                b1 = FloatVector.fromArray(S, src, s2 + L).fma(qv, b1);
                if (nv > 2) {
                    a2 = FloatVector.fromArray(S, src, s + 2 * L).fma(pv, a2);
                    b2 = FloatVector.fromArray(S, src, s2 + 2 * L).fma(qv, b2);
                    if (nv > 3) {
                        a3 = FloatVector.fromArray(S, src, s + 3 * L).fma(pv, a3);
                        b3 = FloatVector.fromArray(S, src, s2 + 3 * L).fma(qv, b3);
                    }
                }
            }
            if (j == hi) {
                FloatVector pv = FloatVector.broadcast(S, coef[cOff + j * cStride]);
                int s = sBase + j * sStride + i0;
                a0 = FloatVector.fromArray(S, src, s).fma(pv, a0);
                a1 = FloatVector.fromArray(S, src, s + L).fma(pv, a1);
                if (nv > 2) {
                    a2 = FloatVector.fromArray(S, src, s + 2 * L).fma(pv, a2);
                    if (nv > 3) {
                        a3 = FloatVector.fromArray(S, src, s + 3 * L).fma(pv, a3);
                    }
                }
            }
            a0 = a0.add(b0);
            a1 = a1.add(b1);
            a2 = a2.add(b2);
            a3 = a3.add(b3);
            int d = doff + i0;
            store(dst, d, a0, add);
            store(dst, d + L, a1, add);
            if (nv > 2) {
                store(dst, d + 2 * L, a2, add);
                if (nv > 3) {
                    store(dst, d + 3 * L, a3, add);
                }
            }
            i0 += nv * L;
        }
        if (i0 < full) {
            FloatVector a0 = FloatVector.zero(S);
            for (int j = lo; j <= hi; j++) {
                a0 = FloatVector.fromArray(S, src, sBase + j * sStride + i0).fma(FloatVector.broadcast(S, coef[cOff + j * cStride]), a0);
            }
            store(dst, doff + i0, a0, add);
            i0 = full;
        }
        for (int i = i0; i < HS; i++) {
            float acc = 0f;
            for (int j = lo; j <= hi; j++) {
                acc += coef[cOff + j * cStride] * src[sBase + j * sStride + i];
            }
            dst[doff + i] = add ? dst[doff + i] + acc : acc;
        }
    }

    private static void store(float[] dst, int d, FloatVector v, boolean add) {
        (add ? v.add(FloatVector.fromArray(S, dst, d)) : v).intoArray(dst, d);
    }

    /**
     * row[lo..qpos] = softmax(scale * row[lo..qpos]) over whole vector blocks (keys outside get -inf,
     * so exp makes them 0). A method of its own so C2 compiles it with its vector intrinsics early,
     * whatever happens to the long-running per-head loop around it.
     */
    private static void softmaxRow(float[] row, int lo, int qpos, float scale) {
        int j0 = lo / L * L, j1 = pad(qpos + 1);
        java.util.Arrays.fill(row, j0, lo, Float.NEGATIVE_INFINITY);
        java.util.Arrays.fill(row, qpos + 1, j1, Float.NEGATIVE_INFINITY);
        FloatVector mx = FloatVector.broadcast(S, Float.NEGATIVE_INFINITY);
        for (int j = j0; j < j1; j += L) {
            FloatVector sv = FloatVector.fromArray(S, row, j).mul(scale);
            sv.intoArray(row, j);
            mx = mx.max(sv);
        }
        float max = mx.reduceLanes(VectorOperators.MAX);
        // exp in float lanes (DetMath.exp: an ulp or two from Math.exp, the same bits in every JIT tier),
        // summed per row in float lanes, then in double
        FloatVector sum = FloatVector.zero(S);
        for (int j = j0; j < j1; j += L) {
            FloatVector e = DetMath.exp(FloatVector.fromArray(S, row, j).sub(max));
            e.intoArray(row, j);
            sum = sum.add(e);
        }
        float inv = (float) (1.0 / (double) DetMath.sumLanes(sum));
        for (int j = j0; j < j1; j += L) {
            FloatVector.fromArray(S, row, j).mul(inv).intoArray(row, j);
        }
    }

    static void forward(Parallel par, float[] o, float[] p, float[] qa, float[] ka, float[] va,
                        int B, int T, int TK, int NH, int NKV, int HS, int window) {
        float scale = (float) (1.0 / Math.sqrt(HS));
        int g = NH / NKV;
        int np = pad(TK);
        par.forTasks(B * NH, bh -> {
            int b = bh / NH, h = bh % NH, kvh = h / g;
            float[] kt = scratch(0, HS * np); // K of this head transposed
            float[] row = scratch(1, np);
            int kvBase = (b * TK * NKV + kvh) * HS, kvStride = NKV * HS;
            transpose(kt, ka, kvBase, kvStride, TK, HS);
            for (int t = 0; t < T; t++) {
                int qpos = TK - T + t;
                int lo = window > 0 ? Math.max(0, qpos - window + 1) : 0;
                int qoff = ((b * T + t) * NH + h) * HS;
                scores(row, qa, qoff, kt, np, HS, lo, qpos);
                softmaxRow(row, lo, qpos, scale);
                if (p != null) {
                    int prow = ((b * NH + h) * T + t) * TK;
                    java.util.Arrays.fill(p, prow, prow + lo, 0f);
                    System.arraycopy(row, lo, p, prow + lo, qpos + 1 - lo);
                    java.util.Arrays.fill(p, prow + qpos + 1, prow + TK, 0f);
                }
                accum(o, qoff, false, row, 0, 1, lo, qpos, va, kvBase, kvStride, HS);
            }
        });
    }

    static void backward(Parallel par, float[] dqa, float[] dka, float[] dva, float[] d, float[] p,
                         float[] qa, float[] ka, float[] va, int B, int T, int NH, int NKV, int HS) {
        float scale = (float) (1.0 / Math.sqrt(HS));
        int g = NH / NKV;
        int np = pad(T);
        par.forTasks(B * NKV, bk -> {
            int b = bk / NKV, kvh = bk % NKV;
            float[] vt = scratch(0, HS * np); // V transposed
            float[] row = scratch(1, np);
            float[] ds = scratch(2, T * np); // dS of one head
            int kvBase = (b * T * NKV + kvh) * HS, kvStride = NKV * HS, qStride = NH * HS;
            transpose(vt, va, kvBase, kvStride, T, HS);
            for (int h = kvh * g; h < (kvh + 1) * g; h++) {
                int qBase = (b * T * NH + h) * HS;
                int pBase = (b * NH + h) * T * T;
                for (int t = 0; t < T; t++) {
                    int qoff = qBase + t * qStride;
                    int prow = pBase + t * T;
                    int srow = t * np;
                    // dP row = dout_t · Vᵀ, then the softmax backward into dS
                    scores(row, d, qoff, vt, np, HS, 0, t);
                    double dot = 0;
                    for (int j = 0; j <= t; j++) {
                        dot += (double) p[prow + j] * row[j];
                    }
                    float dotf = (float) dot;
                    for (int j = 0; j <= t; j++) {
                        ds[srow + j] = p[prow + j] * (row[j] - dotf) * scale;
                    }
                    accum(dqa, qoff, true, ds, srow, 1, 0, t, ka, kvBase, kvStride, HS);
                }
                for (int j = 0; j < T; j++) {
                    int koff = kvBase + j * kvStride;
                    accum(dva, koff, true, p, pBase + j, T, j, T - 1, d, qBase, qStride, HS);
                    accum(dka, koff, true, ds, j, np, j, T - 1, qa, qBase, qStride, HS);
                }
            }
        });
    }
}
