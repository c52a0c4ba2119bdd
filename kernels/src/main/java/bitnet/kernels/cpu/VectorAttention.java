package bitnet.kernels.cpu;

import static bitnet.kernels.cpu.VectorMath.L;
import static bitnet.kernels.cpu.VectorMath.S;

import bitnet.kernels.cpu.gemm.Sgemm;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

/**
 * Causal attention for {@link VectorKernels}, the semantics of {@link ScalarKernels#attention}
 * (KV cache TK > T, GQA, sliding window, the probabilities cache) restructured for vectors:
 * K (and V in backward) is transposed per head into (HS, TK) scratch so scores are
 * broadcast-FMAs over HS for L keys at a time (no horizontal reductions). Rows go four at a time
 * (GEMM-like register tiles: 4 query rows x 4 key blocks for scores, 4 destination rows x up to 3
 * vectors of HS for the weighted sums P·V, dS·K, Pᵀ·dO, dSᵀ·Q), with one-row kernels for the
 * remainder. The softmax uses DetMath.exp in float lanes (the reference: Math.exp and a double
 * sum; the same bits in every JIT tier). Threads take (b, h) forward and (b, KV head) backward,
 * so each dk, dv row has one writer.
 *
 * <p>Flash-style memory: training keeps {@link #STATE} floats per query row (the softmax's max,
 * its 1/sum, the window start), not the (T, TK) probabilities. Backward recomputes one head's
 * probabilities at a time, per thread, from the same score kernels, the same DetMath.exp and the
 * saved max and 1/sum, so they are bit for bit the ones forward used. At inference (att == null)
 * at most four score rows per head exist at a time.
 */
final class VectorAttention {
    /** Floats of saved state per query row: max, 1/sum, window start. */
    static final int STATE = 3;

    private VectorAttention() {}

    /** Per-thread scratch that grows and is reused; callers overwrite what they read. */
    private static final ThreadLocal<float[][]> SCRATCH = ThreadLocal.withInitial(() -> new float[6][0]);

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

    /**
     * Whether the 4-row register tiles below may hold 4 (scores) or 3 (weighted sums) vectors per
     * row: 16 or 12 accumulators plus their loads and broadcasts fit 32 vector registers (AVX-512,
     * AArch64), not the 16 of AVX2, where C2 spilled accumulators inside the loop. With 16
     * registers the tiles are 4 rows x 2 vectors, as the GEMM's (forward attention of T = 256, 6
     * heads of 64, one Zen 3 core: 18-21 GFLOP/s with the 4 x 4 and 4 x 3 tiles). Each output is
     * one FMA chain in the same order with either tile: the same bits. The property
     * bitnet.attention.wideTiles overrides the choice, so that the tests run both tiles on any CPU
     * (kernels/pom.xml runs the attention tests a second time with it).
     */
    static final boolean WIDE_TILES =
            Boolean.parseBoolean(System.getProperty("bitnet.attention.wideTiles", Boolean.toString(Sgemm.VREGS >= 32)));

    /** Keys per panel of the transposed K (or V): the key blocks of one pass of {@link #scores4}. */
    static final int PW = (WIDE_TILES ? 4 : 2) * L;

    /** n rounded up to whole panels of PW keys. */
    static int padPanels(int n) {
        return (n + PW - 1) / PW * PW;
    }

    /**
     * Where key j's element i lies in a transposed K: panels of PW keys, each (HS, PW) row-major,
     * so the score kernels read one panel as a contiguous stream (a plain (HS, TK) transpose put
     * consecutive i a row of TK apart: one cache line per FMA step, read from L2).
     */
    static int kIndex(int i, int j, int HS) {
        return j / PW * HS * PW + i * PW + j % PW;
    }

    /**
     * dst (padPanels(n) / PW panels of (HS, PW)) = rows of src (rows n at base + j*stride, HS
     * floats each) transposed ({@link #kIndex}), zeros for the keys past n.
     */
    private static void transpose(float[] dst, float[] src, int base, int stride, int n, int HS) {
        for (int j = 0; j < n; j++) {
            int s = base + j * stride, d = kIndex(0, j, HS);
            for (int i = 0; i < HS; i++, d += PW) {
                dst[d] = src[s + i];
            }
        }
        int np = padPanels(n);
        for (int j = n; j < np; j++) {
            for (int i = 0, d = kIndex(0, j, HS); i < HS; i++, d += PW) {
                dst[d] = 0f;
            }
        }
    }

    /**
     * row[j] = Σ_i x[xo+i] * kt[kIndex(i, j)] for the vector blocks covering [lo, hi]: four blocks of L
     * keys per pass share each broadcast of x[i] and keep four independent FMA chains.
     */
    private static void scores(float[] row, float[] x, int xo, float[] kt, int HS, int lo, int hi) {
        int j = lo / L * L;
        for (; j + 3 * L <= hi; j += 4 * L) {
            FloatVector a0 = FloatVector.zero(S), a1 = a0, a2 = a0, a3 = a0;
            int k0 = kIndex(0, j, HS), k1 = kIndex(0, j + L, HS);
            int k2 = kIndex(0, j + 2 * L, HS), k3 = kIndex(0, j + 3 * L, HS);
            for (int i = 0, d = 0; i < HS; i++, d += PW) {
                FloatVector xv = FloatVector.broadcast(S, x[xo + i]);
                a0 = FloatVector.fromArray(S, kt, k0 + d).fma(xv, a0);
                a1 = FloatVector.fromArray(S, kt, k1 + d).fma(xv, a1);
                a2 = FloatVector.fromArray(S, kt, k2 + d).fma(xv, a2);
                a3 = FloatVector.fromArray(S, kt, k3 + d).fma(xv, a3);
            }
            a0.intoArray(row, j);
            a1.intoArray(row, j + L);
            a2.intoArray(row, j + 2 * L);
            a3.intoArray(row, j + 3 * L);
        }
        for (; j <= hi; j += L) {
            FloatVector a0 = FloatVector.zero(S);
            for (int i = 0, k = kIndex(0, j, HS); i < HS; i++, k += PW) {
                a0 = FloatVector.fromArray(S, kt, k).fma(FloatVector.broadcast(S, x[xo + i]), a0);
            }
            a0.intoArray(row, j);
        }
    }

    /**
     * dst[doff .. doff+HS) (+)= Σ_{j in [lo, hi]} coef[cOff + j*cStride] * src[sBase + j*sStride ..],
     * up to four full vectors of HS at a time held in registers, then a scalar tail (no masks:
     * masked loads were far slower here).
     */
    private static void accum(
            float[] dst,
            int doff,
            boolean add,
            float[] coef,
            int cOff,
            int cStride,
            int lo,
            int hi,
            float[] src,
            int sBase,
            int sStride,
            int HS) {
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
                a0 = FloatVector.fromArray(S, src, sBase + j * sStride + i0)
                        .fma(FloatVector.broadcast(S, coef[cOff + j * cStride]), a0);
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
     * rows[r*np + j] = Σ_i x[xo + r*xs + i] * kt[kIndex(i, j)] for four query rows r and the vector
     * blocks covering [lo, hi]: a 4-row register tile (see {@link #WIDE_TILES}), so each load of
     * kt and each broadcast of x feeds four FMAs, as in a GEMM micro-kernel.
     */
    static void scores4(
            float[] rows, float[] x, int xo, int xs, float[] kt, int np, int HS, int lo, int hi, boolean vector) {
        if (!vector) {
            scores4Scalar(rows, x, xo, xs, kt, np, HS, lo, hi);
        } else if (WIDE_TILES) {
            scores4x4(rows, x, xo, xs, kt, np, HS, lo, hi);
        } else {
            scores4x2(rows, x, xo, xs, kt, np, HS, lo, hi);
        }
    }

    /**
     * The scalar twin of {@link #scores4} (start-up, {@link Parallel#scalarTwin}): every score is the
     * same FMA chain over i from zero, over the same key blocks, so the same bits.
     */
    private static void scores4Scalar(
            float[] rows, float[] x, int xo, int xs, float[] kt, int np, int HS, int lo, int hi) {
        for (int r = 0; r < 4; r++) {
            int xr = xo + r * xs, o = r * np;
            for (int j = lo / L * L; j <= hi; j += L) {
                int d = o + j;
                java.util.Arrays.fill(rows, d, d + L, 0f);
                for (int i = 0, k = kIndex(0, j, HS); i < HS; i++, k += PW) {
                    float xv = x[xr + i];
                    for (int l = 0; l < L; l++) {
                        rows[d + l] = Math.fma(kt[k + l], xv, rows[d + l]);
                    }
                }
            }
        }
    }

    /** The first key block of {@link #scores4} from j on that starts a panel, after single blocks up to it. */
    private static int toPanel(float[] rows, float[] x, int xo, int xs, float[] kt, int np, int HS, int j, int hi) {
        for (; j % PW != 0 && j <= hi; j += L) {
            scores4x1(rows, x, xo, xs, kt, np, HS, j);
        }
        return j;
    }

    /** {@link #scores4} with 4 key blocks per pass: 16 accumulators. */
    private static void scores4x4(float[] rows, float[] x, int xo, int xs, float[] kt, int np, int HS, int lo, int hi) {
        int j = toPanel(rows, x, xo, xs, kt, np, HS, lo / L * L, hi);
        int x1 = xo + xs, x2 = xo + 2 * xs, x3 = xo + 3 * xs;
        for (; j + 3 * L <= hi; j += 4 * L) {
            FloatVector a00 = FloatVector.zero(S),
                    a01 = a00,
                    a02 = a00,
                    a03 = a00,
                    a10 = a00,
                    a11 = a00,
                    a12 = a00,
                    a13 = a00;
            FloatVector a20 = a00, a21 = a00, a22 = a00, a23 = a00, a30 = a00, a31 = a00, a32 = a00, a33 = a00;
            for (int i = 0, k = kIndex(0, j, HS); i < HS; i++, k += PW) {
                FloatVector k0 = FloatVector.fromArray(S, kt, k), k1 = FloatVector.fromArray(S, kt, k + L);
                FloatVector k2 = FloatVector.fromArray(S, kt, k + 2 * L), k3 = FloatVector.fromArray(S, kt, k + 3 * L);
                FloatVector xv = FloatVector.broadcast(S, x[xo + i]);
                a00 = k0.fma(xv, a00);
                a01 = k1.fma(xv, a01);
                a02 = k2.fma(xv, a02);
                a03 = k3.fma(xv, a03);
                xv = FloatVector.broadcast(S, x[x1 + i]);
                a10 = k0.fma(xv, a10);
                a11 = k1.fma(xv, a11);
                a12 = k2.fma(xv, a12);
                a13 = k3.fma(xv, a13);
                xv = FloatVector.broadcast(S, x[x2 + i]);
                a20 = k0.fma(xv, a20);
                a21 = k1.fma(xv, a21);
                a22 = k2.fma(xv, a22);
                a23 = k3.fma(xv, a23);
                xv = FloatVector.broadcast(S, x[x3 + i]);
                a30 = k0.fma(xv, a30);
                a31 = k1.fma(xv, a31);
                a32 = k2.fma(xv, a32);
                a33 = k3.fma(xv, a33);
            }
            store4(rows, j, a00, a01, a02, a03);
            store4(rows, np + j, a10, a11, a12, a13);
            store4(rows, 2 * np + j, a20, a21, a22, a23);
            store4(rows, 3 * np + j, a30, a31, a32, a33);
        }
        for (; j <= hi; j += L) {
            scores4x1(rows, x, xo, xs, kt, np, HS, j);
        }
    }

    /** {@link #scores4} with 2 key blocks per pass: 8 accumulators. */
    private static void scores4x2(float[] rows, float[] x, int xo, int xs, float[] kt, int np, int HS, int lo, int hi) {
        int j = toPanel(rows, x, xo, xs, kt, np, HS, lo / L * L, hi);
        int x1 = xo + xs, x2 = xo + 2 * xs, x3 = xo + 3 * xs;
        for (; j + L <= hi; j += 2 * L) {
            FloatVector a00 = FloatVector.zero(S), a01 = a00, a10 = a00, a11 = a00;
            FloatVector a20 = a00, a21 = a00, a30 = a00, a31 = a00;
            for (int i = 0, k = kIndex(0, j, HS); i < HS; i++, k += PW) {
                FloatVector k0 = FloatVector.fromArray(S, kt, k), k1 = FloatVector.fromArray(S, kt, k + L);
                FloatVector xv = FloatVector.broadcast(S, x[xo + i]);
                a00 = k0.fma(xv, a00);
                a01 = k1.fma(xv, a01);
                xv = FloatVector.broadcast(S, x[x1 + i]);
                a10 = k0.fma(xv, a10);
                a11 = k1.fma(xv, a11);
                xv = FloatVector.broadcast(S, x[x2 + i]);
                a20 = k0.fma(xv, a20);
                a21 = k1.fma(xv, a21);
                xv = FloatVector.broadcast(S, x[x3 + i]);
                a30 = k0.fma(xv, a30);
                a31 = k1.fma(xv, a31);
            }
            a00.intoArray(rows, j);
            a01.intoArray(rows, j + L);
            a10.intoArray(rows, np + j);
            a11.intoArray(rows, np + j + L);
            a20.intoArray(rows, 2 * np + j);
            a21.intoArray(rows, 2 * np + j + L);
            a30.intoArray(rows, 3 * np + j);
            a31.intoArray(rows, 3 * np + j + L);
        }
        for (; j <= hi; j += L) {
            scores4x1(rows, x, xo, xs, kt, np, HS, j);
        }
    }

    /** One key block (at j) of {@link #scores4}: where a pass of whole panels does not fit. */
    private static void scores4x1(float[] rows, float[] x, int xo, int xs, float[] kt, int np, int HS, int j) {
        int x1 = xo + xs, x2 = xo + 2 * xs, x3 = xo + 3 * xs;
        {
            FloatVector a0 = FloatVector.zero(S), a1 = a0, a2 = a0, a3 = a0;
            for (int i = 0, k = kIndex(0, j, HS); i < HS; i++, k += PW) {
                FloatVector k0 = FloatVector.fromArray(S, kt, k);
                a0 = k0.fma(FloatVector.broadcast(S, x[xo + i]), a0);
                a1 = k0.fma(FloatVector.broadcast(S, x[x1 + i]), a1);
                a2 = k0.fma(FloatVector.broadcast(S, x[x2 + i]), a2);
                a3 = k0.fma(FloatVector.broadcast(S, x[x3 + i]), a3);
            }
            a0.intoArray(rows, j);
            a1.intoArray(rows, np + j);
            a2.intoArray(rows, 2 * np + j);
            a3.intoArray(rows, 3 * np + j);
        }
    }

    private static void store4(float[] d, int o, FloatVector v0, FloatVector v1, FloatVector v2, FloatVector v3) {
        v0.intoArray(d, o);
        v1.intoArray(d, o + L);
        v2.intoArray(d, o + 2 * L);
        v3.intoArray(d, o + 3 * L);
    }

    /**
     * Four destination rows r (at dst[dOff + r*dStr ..+HS]) (+)= Σ_{j in [lo, hi]}
     * coef[cOff + r*cRow + j*cStr] * src[sBase + j*sStr ..+HS]: each src vector loaded once feeds
     * four rows; up to 3 vectors of HS x 4 rows (12 accumulators) per pass, a scalar tail for HS % L.
     */
    static void accum4(
            float[] dst,
            int dOff,
            int dStr,
            boolean add,
            float[] coef,
            int cOff,
            int cRow,
            int cStr,
            int lo,
            int hi,
            float[] src,
            int sBase,
            int sStr,
            int HS,
            boolean vector) {
        int full = HS / L * L;
        if (vector) {
            accum4Lanes(dst, dOff, dStr, add, coef, cOff, cRow, cStr, lo, hi, src, sBase, sStr, HS);
        } else {
            accum4Twin(dst, dOff, dStr, add, coef, cOff, cRow, cStr, lo, hi, src, sBase, sStr, HS);
        }
        for (int r = 0; r < 4; r++) {
            for (int i = full; i < HS; i++) {
                float acc = 0f;
                for (int j = lo; j <= hi; j++) {
                    acc += coef[cOff + r * cRow + j * cStr] * src[sBase + j * sStr + i];
                }
                int di = dOff + r * dStr + i;
                dst[di] = add ? dst[di] + acc : acc;
            }
        }
    }

    /**
     * The scalar twin of {@link #accum4Lanes} (start-up, Parallel.scalarTwin): each output is the
     * same FMA chain over j from zero, then the same add, so the same bits. A method of its own
     * (see {@link #softmaxTwin}).
     */
    private static void accum4Twin(
            float[] dst,
            int dOff,
            int dStr,
            boolean add,
            float[] coef,
            int cOff,
            int cRow,
            int cStr,
            int lo,
            int hi,
            float[] src,
            int sBase,
            int sStr,
            int HS) {
        int full = HS / L * L;
        float[] acc = new float[full];
        for (int r = 0; r < 4; r++) {
            java.util.Arrays.fill(acc, 0f);
            for (int j = lo; j <= hi; j++) {
                float p = coef[cOff + r * cRow + j * cStr];
                int so = sBase + j * sStr;
                for (int i = 0; i < full; i++) {
                    acc[i] = Math.fma(src[so + i], p, acc[i]);
                }
            }
            int d = dOff + r * dStr;
            for (int i = 0; i < full; i++) {
                dst[d + i] = add ? acc[i] + dst[d + i] : acc[i];
            }
        }
    }

    /**
     * The full vectors of HS of {@link #accum4}, in 4-row register tiles: 3 vectors a row (2 without
     * {@link #WIDE_TILES}) while they fit, then one. Each tile width has its own loop with no branch
     * in it: with the width a variable tested inside the j loop, C2 hoisted the tests as profiled
     * loop predicates, a call with the other width trapped at each entry (profile_predicate,
     * maybe_recompile) and finished in the interpreter, running the Vector API's Java fallback: in
     * about one cold `ppl` of a 15.7M Llama in four, 64 windows took 12-16 s instead of 5 (JFR: 80%
     * of the samples in FloatVector.lanewiseTemplate under this method). Each output is summed over
     * j in the same order whatever the tiles, so the bits are those of {@link #accum4Twin}.
     */
    private static void accum4Lanes(
            float[] dst,
            int dOff,
            int dStr,
            boolean add,
            float[] coef,
            int cOff,
            int cRow,
            int cStr,
            int lo,
            int hi,
            float[] src,
            int sBase,
            int sStr,
            int HS) {
        int full = HS / L * L, i0 = 0;
        int wide = (WIDE_TILES ? 3 : 2) * L;
        for (; i0 + wide <= full; i0 += wide) {
            if (WIDE_TILES) {
                accumTile3(dst, dOff + i0, dStr, add, coef, cOff, cRow, cStr, lo, hi, src, sBase + i0, sStr);
            } else {
                accumTile2(dst, dOff + i0, dStr, add, coef, cOff, cRow, cStr, lo, hi, src, sBase + i0, sStr);
            }
        }
        for (; i0 < full; i0 += L) {
            accumTile1(dst, dOff + i0, dStr, add, coef, cOff, cRow, cStr, lo, hi, src, sBase + i0, sStr);
        }
    }

    /** One 4-row x 3-vector tile of {@link #accum4Lanes}: dst rows at d (stride dStr), src columns from s. */
    private static void accumTile3(
            float[] dst,
            int d,
            int dStr,
            boolean add,
            float[] coef,
            int cOff,
            int cRow,
            int cStr,
            int lo,
            int hi,
            float[] src,
            int s,
            int sStr) {
        FloatVector a00 = FloatVector.zero(S), a01 = a00, a02 = a00, a10 = a00, a11 = a00, a12 = a00;
        FloatVector a20 = a00, a21 = a00, a22 = a00, a30 = a00, a31 = a00, a32 = a00;
        for (int j = lo; j <= hi; j++) {
            int c = cOff + j * cStr, so = s + j * sStr;
            FloatVector p0 = FloatVector.broadcast(S, coef[c]);
            FloatVector p1 = FloatVector.broadcast(S, coef[c + cRow]);
            FloatVector p2 = FloatVector.broadcast(S, coef[c + 2 * cRow]);
            FloatVector p3 = FloatVector.broadcast(S, coef[c + 3 * cRow]);
            FloatVector v = FloatVector.fromArray(S, src, so);
            a00 = v.fma(p0, a00);
            a10 = v.fma(p1, a10);
            a20 = v.fma(p2, a20);
            a30 = v.fma(p3, a30);
            v = FloatVector.fromArray(S, src, so + L);
            a01 = v.fma(p0, a01);
            a11 = v.fma(p1, a11);
            a21 = v.fma(p2, a21);
            a31 = v.fma(p3, a31);
            v = FloatVector.fromArray(S, src, so + 2 * L);
            a02 = v.fma(p0, a02);
            a12 = v.fma(p1, a12);
            a22 = v.fma(p2, a22);
            a32 = v.fma(p3, a32);
        }
        store(dst, d, a00, add);
        store(dst, d + L, a01, add);
        store(dst, d + 2 * L, a02, add);
        store(dst, d + dStr, a10, add);
        store(dst, d + dStr + L, a11, add);
        store(dst, d + dStr + 2 * L, a12, add);
        store(dst, d + 2 * dStr, a20, add);
        store(dst, d + 2 * dStr + L, a21, add);
        store(dst, d + 2 * dStr + 2 * L, a22, add);
        store(dst, d + 3 * dStr, a30, add);
        store(dst, d + 3 * dStr + L, a31, add);
        store(dst, d + 3 * dStr + 2 * L, a32, add);
    }

    /** One 4-row x 2-vector tile of {@link #accum4Lanes}. */
    private static void accumTile2(
            float[] dst,
            int d,
            int dStr,
            boolean add,
            float[] coef,
            int cOff,
            int cRow,
            int cStr,
            int lo,
            int hi,
            float[] src,
            int s,
            int sStr) {
        FloatVector a00 = FloatVector.zero(S), a01 = a00, a10 = a00, a11 = a00;
        FloatVector a20 = a00, a21 = a00, a30 = a00, a31 = a00;
        for (int j = lo; j <= hi; j++) {
            int c = cOff + j * cStr, so = s + j * sStr;
            FloatVector p0 = FloatVector.broadcast(S, coef[c]);
            FloatVector p1 = FloatVector.broadcast(S, coef[c + cRow]);
            FloatVector p2 = FloatVector.broadcast(S, coef[c + 2 * cRow]);
            FloatVector p3 = FloatVector.broadcast(S, coef[c + 3 * cRow]);
            FloatVector v = FloatVector.fromArray(S, src, so), w = FloatVector.fromArray(S, src, so + L);
            a00 = v.fma(p0, a00);
            a10 = v.fma(p1, a10);
            a20 = v.fma(p2, a20);
            a30 = v.fma(p3, a30);
            a01 = w.fma(p0, a01);
            a11 = w.fma(p1, a11);
            a21 = w.fma(p2, a21);
            a31 = w.fma(p3, a31);
        }
        store(dst, d, a00, add);
        store(dst, d + L, a01, add);
        store(dst, d + dStr, a10, add);
        store(dst, d + dStr + L, a11, add);
        store(dst, d + 2 * dStr, a20, add);
        store(dst, d + 2 * dStr + L, a21, add);
        store(dst, d + 3 * dStr, a30, add);
        store(dst, d + 3 * dStr + L, a31, add);
    }

    /** One 4-row x 1-vector tile of {@link #accum4Lanes}. */
    private static void accumTile1(
            float[] dst,
            int d,
            int dStr,
            boolean add,
            float[] coef,
            int cOff,
            int cRow,
            int cStr,
            int lo,
            int hi,
            float[] src,
            int s,
            int sStr) {
        FloatVector a0 = FloatVector.zero(S), a1 = a0, a2 = a0, a3 = a0;
        for (int j = lo; j <= hi; j++) {
            int c = cOff + j * cStr;
            FloatVector v = FloatVector.fromArray(S, src, s + j * sStr);
            a0 = v.fma(FloatVector.broadcast(S, coef[c]), a0);
            a1 = v.fma(FloatVector.broadcast(S, coef[c + cRow]), a1);
            a2 = v.fma(FloatVector.broadcast(S, coef[c + 2 * cRow]), a2);
            a3 = v.fma(FloatVector.broadcast(S, coef[c + 3 * cRow]), a3);
        }
        store(dst, d, a0, add);
        store(dst, d + dStr, a1, add);
        store(dst, d + 2 * dStr, a2, add);
        store(dst, d + 3 * dStr, a3, add);
    }

    /**
     * row[lo..qpos] = softmax(scale * row[lo..qpos]) over whole vector blocks (keys outside get -inf,
     * so exp makes them 0). A method of its own so C2 compiles it with its vector intrinsics early,
     * whatever happens to the long-running per-head loop around it. In vector lanes or (vector
     * false: while the JIT is busy at start-up, C1 compiles it at once, where the vector exp ran the
     * Vector API's Java fallback, 14% of a cold one-window ppl) as its scalar twin: the same
     * operations per lane, the same lane tree.
     */
    static void softmaxRow(float[] row, int ro, int lo, int qpos, float scale, float[] st, int so, boolean vector) {
        int j0 = ro + lo / L * L, j1 = ro + pad(qpos + 1);
        java.util.Arrays.fill(row, j0, ro + lo, Float.NEGATIVE_INFINITY);
        java.util.Arrays.fill(row, ro + qpos + 1, j1, Float.NEGATIVE_INFINITY);
        if (vector) {
            softmaxLanes(row, j0, j1, lo, scale, st, so);
        } else {
            softmaxTwin(row, j0, j1, lo, scale, st, so);
        }
    }

    /**
     * The scalar twin of {@link #softmaxLanes}. Each path is a method of its own: in one method, C2
     * compiled it from start-up's scalar-only profile and could leave vector ops it had never seen
     * run as calls into the Vector API's Java fallback (VectorKernels#swigluLanes).
     */
    private static void softmaxTwin(float[] row, int j0, int j1, int lo, float scale, float[] st, int so) {
        float max = Float.NEGATIVE_INFINITY;
        for (int j = j0; j < j1; j++) {
            row[j] *= scale;
            max = Math.max(max, row[j]);
        }
        float[] sum = new float[L];
        for (int j = j0; j < j1; j += L) {
            for (int l = 0; l < L; l++) {
                float e = DetMath.exp(row[j + l] - max);
                row[j + l] = e;
                sum[l] += e;
            }
        }
        float inv = (float) (1.0 / (double) DetMath.sumLanes(sum));
        for (int j = j0; j < j1; j++) {
            row[j] *= inv;
        }
        if (st != null) {
            st[so] = max;
            st[so + 1] = inv;
            st[so + 2] = lo;
        }
    }

    /** The softmax of {@link #softmaxRow} over row[j0, j1) in vector lanes. */
    private static void softmaxLanes(float[] row, int j0, int j1, int lo, float scale, float[] st, int so) {
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
        if (st != null) {
            st[so] = max;
            st[so + 1] = inv;
            st[so + 2] = lo;
        }
    }

    /**
     * p[po + j] for j in [0, T): the probabilities of one query row recomputed from its raw scores
     * row[ro ..] and saved state (max, 1/sum, window start lo) with the operations of
     * {@link #softmaxRow}, so the same bits; 0 outside [lo, qpos] up to np = pad(T).
     */
    private static void probRow(
            float[] p, int po, float[] row, int ro, int qpos, int np, float scale, float[] st, int so) {
        float max = st[so], inv = st[so + 1];
        int lo = (int) st[so + 2];
        int j0 = lo / L * L, j1 = pad(qpos + 1);
        java.util.Arrays.fill(row, ro + j0, ro + lo, Float.NEGATIVE_INFINITY);
        java.util.Arrays.fill(row, ro + qpos + 1, ro + j1, Float.NEGATIVE_INFINITY);
        java.util.Arrays.fill(p, po, po + j0, 0f);
        for (int j = j0; j < j1; j += L) {
            DetMath.exp(FloatVector.fromArray(S, row, ro + j).mul(scale).sub(max))
                    .mul(inv)
                    .intoArray(p, po + j);
        }
        java.util.Arrays.fill(p, po + j1, po + np, 0f);
    }

    /**
     * About 0.2 s of scalar twin work on one core (~0.9 G FMAs/s measured on Zen 3): one forward
     * of 256 tokens of a 15.7M Llama (6 layers of 6 heads, T * TK * HS = 4.2M each) fits.
     */
    private static final Parallel.ColdBudget ATTENTION_COLD = new Parallel.ColdBudget(160_000_000L);

    /** st: null, or (B, NH, T, STATE) saved for backward. */
    static void forward(
            Parallel par,
            float[] o,
            float[] st,
            float[] qa,
            float[] ka,
            float[] va,
            int B,
            int T,
            int TK,
            int NH,
            int NKV,
            int HS,
            int window) {
        float scale = (float) (1.0 / Math.sqrt(HS));
        int g = NH / NKV;
        int np = pad(TK);
        // at start-up the 4-row blocks and the softmax run their scalar twins (same bits): the Vector
        // API code ran its Java fallback until C2 compiled it, 0.3-0.5 s of a cold one-window ppl
        // of a 15.7M Llama (JFR, Zen 3); C1 compiles the plain loops within milliseconds
        boolean vector = !Parallel.scalarTwin(ATTENTION_COLD, (long) B * NH * T * TK * HS);
        par.forTasks(B * NH, (long) B * NH * T * TK * HS, bh -> {
            int b = bh / NH, h = bh % NH, kvh = h / g;
            float[] kt = scratch(0, HS * padPanels(TK)); // K of this head transposed (kIndex)
            float[] row = scratch(1, np);
            int kvBase = (b * TK * NKV + kvh) * HS, kvStride = NKV * HS;
            // decoding (a few new rows against a long cache, nothing kept for backward): each score
            // is a dot product with a K row read in place; transposing the whole cache for every
            // token and head cost as much as the scores themselves (a quarter of batch-1 decoding)
            boolean rowDots = T < 4 && st == null;
            if (!rowDots) {
                transpose(kt, ka, kvBase, kvStride, TK, HS);
            }
            float[] rows = scratch(2, 4 * np);
            int qs = NH * HS;
            int t = 0;
            // four query rows at a time: scores, four softmaxes, then P·V for the four rows
            for (; t + 4 <= T; t += 4) {
                int qpos0 = TK - T + t, hiMax = qpos0 + 3;
                int loMin = window > 0 ? Math.max(0, qpos0 - window + 1) : 0;
                int qoff = ((b * T + t) * NH + h) * HS;
                scores4(rows, qa, qoff, qs, kt, np, HS, loMin, hiMax, vector);
                for (int r = 0; r < 4; r++) {
                    int qpos = qpos0 + r;
                    int lo = window > 0 ? Math.max(0, qpos - window + 1) : 0;
                    int ro = r * np;
                    softmaxRow(rows, ro, lo, qpos, scale, st, ((b * NH + h) * T + t + r) * STATE, vector);
                    // zeros where this row's keys end before the block's range does
                    java.util.Arrays.fill(rows, ro + loMin, ro + lo, 0f);
                    java.util.Arrays.fill(rows, ro + qpos + 1, ro + hiMax + 1, 0f);
                }
                accum4(o, qoff, qs, false, rows, 0, np, 1, loMin, hiMax, va, kvBase, kvStride, HS, vector);
            }
            for (; t < T; t++) {
                int qpos = TK - T + t;
                int lo = window > 0 ? Math.max(0, qpos - window + 1) : 0;
                int qoff = ((b * T + t) * NH + h) * HS;
                if (rowDots) {
                    for (int j = lo; j <= qpos; j++) {
                        row[j] = VectorMath.dot(qa, qoff, ka, kvBase + j * kvStride, HS);
                    }
                } else {
                    scores(row, qa, qoff, kt, HS, lo, qpos);
                }
                softmaxRow(row, 0, lo, qpos, scale, st, ((b * NH + h) * T + t) * STATE, vector);
                accum(o, qoff, false, row, 0, 1, lo, qpos, va, kvBase, kvStride, HS);
            }
        });
    }

    /**
     * dS row t = P_t ∘ (dP_t - P_t·dP_t) * scale from the dP row at dp[dpo ..], and zeros for the
     * next three keys past t (the 4-key dK pass reads them).
     */
    private static void dsRow(float[] ds, float[] dp, int dpo, float[] p, int pBase, int t, int np, float scale) {
        int prow = pBase + t * np, srow = t * np;
        double dot = 0;
        for (int j = 0; j <= t; j++) {
            dot += (double) p[prow + j] * dp[dpo + j];
        }
        float dotf = (float) dot;
        for (int j = 0; j <= t; j++) {
            ds[srow + j] = p[prow + j] * (dp[dpo + j] - dotf) * scale;
        }
        java.util.Arrays.fill(ds, srow + t + 1, srow + Math.min(np, t + 4), 0f);
    }

    /** st: the (B, NH, T, STATE) that forward saved. */
    static void backward(
            Parallel par,
            float[] dqa,
            float[] dka,
            float[] dva,
            float[] d,
            float[] st,
            float[] qa,
            float[] ka,
            float[] va,
            int B,
            int T,
            int NH,
            int NKV,
            int HS) {
        float scale = (float) (1.0 / Math.sqrt(HS));
        int g = NH / NKV;
        int np = pad(T);
        par.forTasks(B * NKV, bk -> {
            int b = bk / NKV, kvh = bk % NKV;
            float[] vt = scratch(0, HS * padPanels(T)); // V transposed (kIndex)
            float[] row = scratch(1, np);
            float[] ds = scratch(2, T * np); // dS of one head
            float[] rows = scratch(3, 4 * np); // four dP rows
            float[] kt = scratch(4, HS * padPanels(T)); // K transposed (kIndex)
            float[] p = scratch(5, T * np); // this head's probabilities (T, np), recomputed
            int kvBase = (b * T * NKV + kvh) * HS, kvStride = NKV * HS, qStride = NH * HS;
            transpose(vt, va, kvBase, kvStride, T, HS);
            transpose(kt, ka, kvBase, kvStride, T, HS);
            for (int h = kvh * g; h < (kvh + 1) * g; h++) {
                int qBase = (b * T * NH + h) * HS;
                int pBase = 0;
                int sBase = (b * NH + h) * T * STATE;
                // P of this head, as forward had it: the same score kernels (each score is one FMA
                // chain over HS whichever kernel runs it), exp and the saved max and 1/sum
                int t = 0;
                for (; t + 4 <= T; t += 4) {
                    scores4(rows, qa, qBase + t * qStride, qStride, kt, np, HS, 0, t + 3, true);
                    for (int r = 0; r < 4; r++) {
                        probRow(p, (t + r) * np, rows, r * np, t + r, np, scale, st, sBase + (t + r) * STATE);
                    }
                }
                for (; t < T; t++) {
                    scores(row, qa, qBase + t * qStride, kt, HS, 0, t);
                    probRow(p, t * np, row, 0, t, np, scale, st, sBase + t * STATE);
                }
                t = 0;
                for (; t + 4 <= T; t += 4) {
                    // dP rows = dout_t · Vᵀ for four t, the softmax backward into dS, dQ for the four rows
                    scores4(rows, d, qBase + t * qStride, qStride, vt, np, HS, 0, t + 3, true);
                    for (int r = 0; r < 4; r++) {
                        dsRow(ds, rows, r * np, p, pBase, t + r, np, scale);
                    }
                    accum4(
                            dqa,
                            qBase + t * qStride,
                            qStride,
                            true,
                            ds,
                            t * np,
                            np,
                            1,
                            0,
                            t + 3,
                            ka,
                            kvBase,
                            kvStride,
                            HS,
                            true);
                }
                for (; t < T; t++) {
                    int qoff = qBase + t * qStride;
                    scores(row, d, qoff, vt, HS, 0, t);
                    dsRow(ds, row, 0, p, pBase, t, np, scale);
                    accum(dqa, qoff, true, ds, t * np, 1, 0, t, ka, kvBase, kvStride, HS);
                }
                // dV, dK for four keys at a time (P and dS are 0 where t < j)
                int j = 0;
                for (; j + 4 <= T; j += 4) {
                    int koff = kvBase + j * kvStride;
                    accum4(dva, koff, kvStride, true, p, pBase + j, 1, np, j, T - 1, d, qBase, qStride, HS, true);
                    accum4(dka, koff, kvStride, true, ds, j, 1, np, j, T - 1, qa, qBase, qStride, HS, true);
                }
                for (; j < T; j++) {
                    int koff = kvBase + j * kvStride;
                    accum(dva, koff, true, p, pBase + j, np, j, T - 1, d, qBase, qStride, HS);
                    accum(dka, koff, true, ds, j, np, j, T - 1, qa, qBase, qStride, HS);
                }
            }
        });
    }
}
