package bitnet.kernels.cpu.gemm;

import bitnet.kernels.cpu.Parallel;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorSpecies;

/**
 * A blocked, packed, multi-threaded FP32 GEMM on the Vector API: C (M, N) = or += A (M, K) · B (K, N).
 * Goto/BLIS structure: K is cut in KC blocks; per task, B is packed in panels of NR = 2 vectors
 * of columns; A is read in place 6 rows at a time (a short last strip is packed); a 6 x 2-vector
 * broadcast-FMA micro-kernel keeps its 12 accumulators in registers. A is always a float[] (activations), either row-major or
 * transposed; B comes from a {@link PackB} (float[] or stored F32/F16/BF16, either layout).
 *
 * <p>Threads take whole (row range x column range) tasks, each packing its own B: no barrier
 * between K blocks, and tasks write disjoint tiles of C. Not a general BLAS: no alpha/beta other
 * than overwrite-with-bias or accumulate.
 *
 * <p>JIT note (design.md): the micro-kernel is a small method called once per (strip, panel,
 * K block), so C2 compiles it early with its vector intrinsics; a few huge invocations instead
 * would leave the vectors boxed and run ~20x slower.
 */
public final class Sgemm {
    static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    static final int L = S.length();
    /** Rows per micro-tile. */
    public static final int MR = 6;
    /** Columns per micro-tile: two vectors. */
    public static final int NR = 2 * L;
    // block sizes; the properties exist for tuning runs only
    // KC: row-major A (forward, dinp) takes 512 (one K block for K <= 512; +10% on dout·W of the
    // LM head), transposed A (dW = doutᵀ·inp) keeps 256: its 6-float column reads then stay in L2
    // (512 measured 85 -> 51 GFLOP/s there)
    static final int KC = Integer.getInteger("bitnet.gemm.kc", 512);
    static final int KC_T = Integer.getInteger("bitnet.gemm.kct", 256);
    private static final int KC_MAX = Math.max(KC, KC_T);
    static final int MC = Integer.getInteger("bitnet.gemm.mc", 192) / MR * MR;
    static final int NC = Integer.getInteger("bitnet.gemm.nc", 1024) / NR * NR;
    static final boolean DIRECT = !Boolean.getBoolean("bitnet.gemm.packA");
    static final boolean DIRECT_T = !Boolean.getBoolean("bitnet.gemm.packAT");

    private Sgemm() {}

    private static final class Scratch {
        final float[] a = new float[MC * KC_MAX];
        final float[] b = new float[NC * KC_MAX];
    }

    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    /**
     * C (M, N), row stride ldc, = A·B (+ bias per column when overwrite) or += A·B.
     *
     * @param a      A's array; A(m, k) = a[aOff + m*lda + k], or a[aOff + k*lda + m] if aTrans
     * @param bias   (N) added when overwrite; may be null
     */
    public static void gemm(
            Parallel par,
            int M,
            int N,
            int K,
            float[] a,
            int aOff,
            int lda,
            boolean aTrans,
            PackB b,
            float[] c,
            int ldc,
            boolean overwrite,
            float[] bias) {
        if (M <= 0 || N <= 0) {
            return;
        }
        if (K <= 0) {
            if (overwrite) {
                for (int m = 0; m < M; m++) {
                    for (int n = 0; n < N; n++) {
                        c[m * ldc + n] = bias == null ? 0f : bias[n];
                    }
                }
            }
            return;
        }
        int T = par == null ? 1 : par.threads();
        int panels = (N + NR - 1) / NR, strips = (M + MR - 1) / MR;
        // Split columns when there are enough panels (each task then packs only its share of B),
        // otherwise rows. About 3 tasks per thread balances uneven tails without many re-packs.
        int want = T == 1 ? 1 : 3 * T;
        int tn, tm;
        if (panels >= 2 * want || (long) panels * NR * 4 >= (long) strips * MR) {
            tn = Math.min(want, panels);
            tm = Math.max(1, Math.min(strips, want / tn));
        } else {
            tm = Math.min(want, strips);
            tn = 1;
        }
        int ftn = tn, ftm = tm;
        Parallel.Tasks task = t -> {
            int i = t / ftn, j = t % ftn;
            int m0 = (int) ((long) strips * i / ftm) * MR, m1 = Math.min(M, (int) ((long) strips * (i + 1) / ftm) * MR);
            int n0 = (int) ((long) panels * j / ftn) * NR, n1 = Math.min(N, (int) ((long) panels * (j + 1) / ftn) * NR);
            block(m0, m1, n0, n1, K, a, aOff, lda, aTrans, b, c, ldc, overwrite, bias);
        };
        if (par == null || tn * tm == 1) {
            for (int t = 0; t < tn * tm; t++) {
                task.run(t);
            }
        } else {
            par.forTasks(tn * tm, task);
        }
    }

    /** One task: C[m0..m1) x [n0..n1) over the whole K, on this thread. */
    static void block(
            int m0,
            int m1,
            int n0,
            int n1,
            int K,
            float[] a,
            int aOff,
            int lda,
            boolean aTrans,
            PackB b,
            float[] c,
            int ldc,
            boolean overwrite,
            float[] bias) {
        Scratch s = SCRATCH.get();
        float[] ap = s.a, bp = s.b;
        int kcb = aTrans ? KC_T : KC;
        for (int k0 = 0; k0 < K; k0 += kcb) {
            int kc = Math.min(kcb, K - k0);
            boolean first = overwrite && k0 == 0;
            for (int nb = n0; nb < n1; nb += NC) {
                int nc = Math.min(NC, n1 - nb);
                int np = (nc + NR - 1) / NR;
                for (int p = 0; p < np; p++) {
                    b.pack(bp, p * kc * NR, k0, kc, nb + p * NR, Math.min(NR, nc - p * NR));
                }
                for (int mb = m0; mb < m1; mb += MC) {
                    int mc = Math.min(MC, m1 - mb);
                    int ns = (mc + MR - 1) / MR;
                    // A is read in place, row-major or transposed (measured by thread CPU time on the
                    // demo shapes: 72 -> 88-90 GFLOP/s on one core, since packing A costs ~15% when N
                    // is small); only a short last strip is packed. -Dbitnet.gemm.packA / packAT
                    // restore packing for tuning runs.
                    boolean direct = DIRECT && (!aTrans || DIRECT_T);
                    if (!direct) {
                        packA(ap, a, aOff, lda, aTrans, mb, mc, k0, kc);
                    } else if (mc % MR != 0) {
                        packA(ap, a, aOff, lda, aTrans, mb + (ns - 1) * MR, mc - (ns - 1) * MR, k0, kc);
                    }
                    for (int p = 0; p < np; p++) {
                        int n = nb + p * NR;
                        int cols = Math.min(NR, nc - p * NR);
                        for (int st = 0; st < ns; st++) {
                            int m = mb + st * MR;
                            int rows = Math.min(MR, mc - st * MR);
                            if (!direct) {
                                kernel(
                                        kc,
                                        ap,
                                        st * kc * MR,
                                        1,
                                        MR,
                                        bp,
                                        p * kc * NR,
                                        c,
                                        m * ldc + n,
                                        ldc,
                                        rows,
                                        cols,
                                        first,
                                        bias,
                                        n);
                            } else if (rows == MR && aTrans) {
                                kernel(
                                        kc,
                                        a,
                                        aOff + k0 * lda + m,
                                        1,
                                        lda,
                                        bp,
                                        p * kc * NR,
                                        c,
                                        m * ldc + n,
                                        ldc,
                                        rows,
                                        cols,
                                        first,
                                        bias,
                                        n);
                            } else if (rows == MR) {
                                kernel(
                                        kc,
                                        a,
                                        aOff + m * lda + k0,
                                        lda,
                                        1,
                                        bp,
                                        p * kc * NR,
                                        c,
                                        m * ldc + n,
                                        ldc,
                                        rows,
                                        cols,
                                        first,
                                        bias,
                                        n);
                            } else {
                                kernel(
                                        kc,
                                        ap,
                                        0,
                                        1,
                                        MR,
                                        bp,
                                        p * kc * NR,
                                        c,
                                        m * ldc + n,
                                        ldc,
                                        rows,
                                        cols,
                                        first,
                                        bias,
                                        n);
                            }
                        }
                    }
                }
            }
        }
    }

    /** Packs A[m0..m0+mc) x [k0..k0+kc) as strips of MR rows: ap[s*kc*MR + k*MR + i], zero rows past mc. */
    static void packA(float[] ap, float[] a, int aOff, int lda, boolean aTrans, int m0, int mc, int k0, int kc) {
        int ns = (mc + MR - 1) / MR;
        for (int st = 0; st < ns; st++) {
            int base = st * kc * MR;
            int rows = Math.min(MR, mc - st * MR);
            int mStart = m0 + st * MR;
            if (aTrans) {
                for (int k = 0; k < kc; k++) {
                    int src = aOff + (k0 + k) * lda + mStart;
                    int d = base + k * MR;
                    for (int i = 0; i < rows; i++) {
                        ap[d + i] = a[src + i];
                    }
                    for (int i = rows; i < MR; i++) {
                        ap[d + i] = 0f;
                    }
                }
            } else {
                for (int i = 0; i < MR; i++) {
                    if (i < rows) {
                        int src = aOff + (mStart + i) * lda + k0;
                        for (int k = 0; k < kc; k++) {
                            ap[base + k * MR + i] = a[src + k];
                        }
                    } else {
                        for (int k = 0; k < kc; k++) {
                            ap[base + k * MR + i] = 0f;
                        }
                    }
                }
            }
        }
    }

    /**
     * The 6 x 2-vector micro-kernel: C tile (+)= A strip · B panel over kc. A(i, k) is
     * ap[ao + i*rs + k*ks]: (1, MR) for a packed strip, (lda, 1) for row-major A in place.
     */
    static void kernel(
            int kc,
            float[] ap,
            int ao,
            int rs,
            int ks,
            float[] bp,
            int bo,
            float[] c,
            int co,
            int ldc,
            int rows,
            int cols,
            boolean first,
            float[] bias,
            int n) {
        FloatVector c00 = FloatVector.zero(S), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
        FloatVector c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
        for (int k = 0; k < kc; k++) {
            int bk = bo + k * NR, ak = ao + k * ks;
            FloatVector b0 = FloatVector.fromArray(S, bp, bk);
            FloatVector b1 = FloatVector.fromArray(S, bp, bk + L);
            FloatVector x = FloatVector.broadcast(S, ap[ak]);
            c00 = b0.fma(x, c00);
            c01 = b1.fma(x, c01);
            x = FloatVector.broadcast(S, ap[ak + rs]);
            c10 = b0.fma(x, c10);
            c11 = b1.fma(x, c11);
            x = FloatVector.broadcast(S, ap[ak + 2 * rs]);
            c20 = b0.fma(x, c20);
            c21 = b1.fma(x, c21);
            x = FloatVector.broadcast(S, ap[ak + 3 * rs]);
            c30 = b0.fma(x, c30);
            c31 = b1.fma(x, c31);
            x = FloatVector.broadcast(S, ap[ak + 4 * rs]);
            c40 = b0.fma(x, c40);
            c41 = b1.fma(x, c41);
            x = FloatVector.broadcast(S, ap[ak + 5 * rs]);
            c50 = b0.fma(x, c50);
            c51 = b1.fma(x, c51);
        }
        if (cols == NR && (!first || bias == null)) {
            store(c, co, c00, c01, first);
            if (rows > 1) store(c, co + ldc, c10, c11, first);
            if (rows > 2) store(c, co + 2 * ldc, c20, c21, first);
            if (rows > 3) store(c, co + 3 * ldc, c30, c31, first);
            if (rows > 4) store(c, co + 4 * ldc, c40, c41, first);
            if (rows > 5) store(c, co + 5 * ldc, c50, c51, first);
        } else {
            VectorMask<Float> m0 = S.indexInRange(0, cols), m1 = S.indexInRange(L, cols);
            FloatVector bias0 = null, bias1 = null;
            if (first && bias != null) {
                bias0 = FloatVector.fromArray(S, bias, n, m0);
                bias1 = FloatVector.fromArray(S, bias, n + L, m1);
            }
            storeMasked(c, co, c00, c01, first, bias0, bias1, m0, m1);
            if (rows > 1) storeMasked(c, co + ldc, c10, c11, first, bias0, bias1, m0, m1);
            if (rows > 2) storeMasked(c, co + 2 * ldc, c20, c21, first, bias0, bias1, m0, m1);
            if (rows > 3) storeMasked(c, co + 3 * ldc, c30, c31, first, bias0, bias1, m0, m1);
            if (rows > 4) storeMasked(c, co + 4 * ldc, c40, c41, first, bias0, bias1, m0, m1);
            if (rows > 5) storeMasked(c, co + 5 * ldc, c50, c51, first, bias0, bias1, m0, m1);
        }
    }

    private static void store(float[] c, int off, FloatVector v0, FloatVector v1, boolean first) {
        if (!first) {
            v0 = v0.add(FloatVector.fromArray(S, c, off));
            v1 = v1.add(FloatVector.fromArray(S, c, off + L));
        }
        v0.intoArray(c, off);
        v1.intoArray(c, off + L);
    }

    private static void storeMasked(
            float[] c,
            int off,
            FloatVector v0,
            FloatVector v1,
            boolean first,
            FloatVector bias0,
            FloatVector bias1,
            VectorMask<Float> m0,
            VectorMask<Float> m1) {
        if (!first) {
            v0 = v0.add(FloatVector.fromArray(S, c, off, m0));
            v1 = v1.add(FloatVector.fromArray(S, c, off + L, m1));
        } else if (bias0 != null) {
            v0 = v0.add(bias0);
            v1 = v1.add(bias1);
        }
        v0.intoArray(c, off, m0);
        v1.intoArray(c, off + L, m1);
    }
}
