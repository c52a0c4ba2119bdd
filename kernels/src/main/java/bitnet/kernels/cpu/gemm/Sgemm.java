package bitnet.kernels.cpu.gemm;

import bitnet.kernels.cpu.Parallel;
import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * A blocked, packed, multi-threaded FP32 GEMM on the Vector API: C (M, N) = or += A (M, K) · B (K, N).
 * BLIS structure: N is cut in NC blocks and K in KC blocks; each (NC x KC) block of B is packed
 * once, in panels of NR = 2 vectors of columns (k-major), and shared by all threads; each thread
 * packs its rows of A, MC at a time, in k-major strips of MR rows (every A layout, so the kernel has
 * one layout and TN packs contiguous runs). Within an A block, panels go in groups that fit half
 * the L2 and strips run outside the panels of a group, so that consecutive C tiles are consecutive
 * in memory (see block()). An MR x 2-vector broadcast-FMA
 * micro-kernel keeps its accumulators in registers. The tile follows the register count, block
 * sizes the cache sizes read at run time ({@link Blocking}). A is always a float[] (activations);
 * B comes from a {@link PackB} (float[] or stored F32/F16/BF16, either layout).
 *
 * <p>Threads: per B block, the panels are packed in parallel, then the rows (and, when there are
 * too few strips, the panels) are split in tasks that write disjoint tiles of C; all the blocks'
 * tasks form one list whose tasks wait only for the data they need ({@link Pipeline}). Before this, each
 * task packed its own B: a row split repacked all of B per task, and 2048³ on 2 threads ran at 0.58x
 * OpenBLAS. Every element of C is summed in the same order whatever the split: same bits with any
 * thread count. Not a general BLAS: no alpha/beta other than overwrite-with-bias or accumulate.
 *
 * <p>JIT notes (design.md): the micro-kernel is a small method called once per (strip, panel,
 * K block), so C2 compiles it early with its vector intrinsics (a few huge invocations instead
 * would leave the vectors boxed and run ~20x slower). Each index in its loop is the counter times a
 * constant plus an invariant, so C2 removes every bounds check from the loop. It has one layout and
 * no branch but its loop, so every call site shares one profile and a path the first calls never
 * take cannot deoptimize it later (edge tiles and the overwrite/bias start are handled by the
 * caller; with a second kernel for packed A, TN run after NT and NN in one JVM measured 3.5 GFLOP/s).
 */
public final class Sgemm {
    static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    static final int L = S.length();
    /**
     * Vector registers the JIT can use: 32 with AVX-512 or on AArch64 (NEON/SVE), 16 with AVX2. C2
     * loads all MR broadcasts of a k step before their FMAs, so a tile needs 2*MR accumulators +
     * 2 B vectors + MR broadcasts in registers; beyond that it spills accumulators to the stack
     * inside the loop (a kernel micro-benchmark on one Zen 3 core, AVX2, thread CPU time on a busy
     * machine: 6 rows 37-39 GFLOP/s, 4 rows 54-86).
     */
    public static final int VREGS =
            S.vectorBitSize() >= 512 || System.getProperty("os.arch", "").equals("aarch64") ? 32 : 16;
    /**
     * The micro-tile, rows x vectors (42, 62, or 33 for tuning runs): panels of 2 vectors, and 6 rows
     * where their registers fit (6*2 accumulators + 2 B vectors + 6 broadcasts <= VREGS), else 4.
     * 3 x 3 (9 accumulators in 15 AVX2 registers) measured no faster than 4 x 2 on Zen 3 (2048³, 1
     * thread, best of 3: 64-68 against 70-73 GFLOP/s; both without spills in the JIT's machine code,
     * its k step has more index arithmetic). bitnet.gemm.tile overrides the choice, for tuning runs
     * only.
     */
    static final int TILE = Integer.getInteger("bitnet.gemm.tile", 3 * 6 + 2 <= VREGS ? 62 : 42);

    /** Rows per micro-tile. */
    public static final int MR = TILE / 10;
    /** Columns per micro-tile: NV vectors. */
    public static final int NR = TILE % 10 * L;

    static final int KC = Blocking.kc(MR);
    static final int MC = Blocking.mc(MR, KC);
    static final int NC = Blocking.nc(NR, KC);

    private Sgemm() {}

    /** Strips outside panels when accumulating into C with the panels in L2 (block()); off for tuning runs. */
    static final boolean STRIPS_OUTER_L2 = !Boolean.getBoolean("bitnet.gemm.panelsOuterAlways");

    /** Panels per group when accumulating (block()); 0 = from the L2 size. Tuning runs only. */
    static final int GROUP_OVERRIDE = Integer.getInteger("bitnet.gemm.group", 0);

    /** A thread's packed A block and edge tile. */
    private static final class Scratch {
        final float[] a = new float[MC * KC];
        /** One MR x NR tile for edge tiles, ldc = NR. */
        final float[] t = new float[MR * NR];
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
        if (T > 1) {
            new Pipeline(
                            T,
                            M,
                            N,
                            K,
                            a,
                            aOff,
                            lda,
                            aTrans,
                            b,
                            c,
                            ldc,
                            overwrite,
                            bias,
                            buffers(B_BLOCKS, NC),
                            buffers(A_BLOCKS, aTrans ? MC : 0))
                    .run(par);
            return;
        }
        float[] bp = buffers(B_BLOCKS, NC)[0];
        int blockCols = blockCols(K);
        for (int nb = 0; nb < N; nb += blockCols) {
            int nc = Math.min(blockCols, N - nb), np = (nc + NR - 1) / NR;
            for (int k0 = 0; k0 < K; k0 += KC) {
                int kc = Math.min(KC, K - k0);
                b.packPanels(bp, 0, np, k0, kc, nb, nc);
                block(0, M, 0, np, nb, nc, k0, kc, overwrite && k0 == 0, a, aOff, lda, aTrans, bp, c, ldc, bias);
            }
        }
    }

    /**
     * Columns per B block for a product of depth K: the cache rule of {@link Blocking#nc} for the K
     * blocks this product has (K alone when K < KC), so a shallow product (the forward of a layer
     * of 192 inputs) keeps whole B blocks of up to 4096 columns, each of which repacks A, where
     * NC (for KC-deep blocks) would cut them finer. Always fits the NC x KC buffers.
     */
    static int blockCols(int K) {
        if (K >= KC) {
            return NC;
        }
        int fit = (int) Math.min(Integer.MAX_VALUE, (long) NC * KC / Math.max(1, K)) / NR * NR;
        return Math.max(NR, Math.min(Blocking.nc(NR, Math.max(1, K)), fit));
    }

    /**
     * The two packed blocks of one kind (B: NC x KC, A: MC x KC) that a multi-threaded call's
     * {@link Pipeline} alternates between, this calling thread's (workers only read them); with rows
     * 0 none are made.
     */
    private static float[][] buffers(ThreadLocal<float[][]> local, int rows) {
        float[][] bufs = local.get();
        for (int i = 0; i < 2 && rows > 0; i++) {
            if (bufs[i] == null) {
                bufs[i] = new float[rows * KC];
            }
        }
        return bufs;
    }

    private static final ThreadLocal<float[][]> B_BLOCKS = ThreadLocal.withInitial(() -> new float[2][]);
    private static final ThreadLocal<float[][]> A_BLOCKS = ThreadLocal.withInitial(() -> new float[2][]);

    /** This thread's MR x NR tile for edge tiles. */
    static float[] scratchTile() {
        return SCRATCH.get().t;
    }

    /**
     * Transposed A is packed by all threads together ({@link Pipeline#sharedA}) when a row task would have
     * fewer rows than this (64: a quarter of a kilobyte of each row of A). With wider tasks each
     * reads long enough runs itself, and the shared packing's extra step per A block cost more than
     * it saved (TN, 2 threads, 16 row tasks, Zen 5, ms, per task vs shared: 2048³ (128 rows a task)
     * 55.7-56.9 vs 59.0-59.7; 4096x192x8192 (512) 49-56 vs 62-65; 4096x192x512 (32) 5.0-5.2 vs
     * 4.8). bitnet.gemm.sharedRows overrides it, for tuning runs only.
     */
    static final int SHARED_A_ROWS = Integer.getInteger("bitnet.gemm.sharedRows", 64);

    /**
     * Packs k rows [kLo, kHi) of the A block [m0, m0 + mc) x [k0, k0 + kc) of a transposed A (A(m, k) =
     * a[aOff + k*lda + m]) into the strip layout of {@link #packA}; the padding rows of the last strip
     * are zero. A k step of a full strip, MR contiguous values, is one masked vector move ({@link
     * #MR_LANES}; TN 4096x192x512, every A block on one thread: 1.24 -> 0.49 ms against the scalar
     * copy of each value, Zen 5). At start-up (vector false) every value is copied one by one. The
     * load is a whole vector where one fits in the array: a masked load that may reach past its
     * end takes the Vector API's lane-by-lane bounds check (AbstractMask.checkIndexByLane, which
     * JFR showed in TN's profile on Zen 4); the last rows of A copy value by value.
     */
    static void packAT(
            float[] ap,
            float[] a,
            int aOff,
            int lda,
            int m0,
            int mc,
            int k0,
            int kc,
            int kLo,
            int kHi,
            boolean vector) {
        int full = mc / MR, rem = mc - full * MR;
        boolean moves = vector && MR_LANES != null;
        for (int kk = kLo; kk < kHi; kk += 8) {
            int ke = Math.min(kHi, kk + 8);
            for (int st = 0; st < full; st++) {
                int src = aOff + (k0 + kk) * lda + m0 + st * MR, d = st * MR * kc + kk * MR;
                if (moves && src + (long) (ke - 1 - kk) * lda + L <= a.length) {
                    for (int k = kk; k < ke; k++, src += lda, d += MR) {
                        FloatVector.fromArray(S, a, src).intoArray(ap, d, MR_LANES);
                    }
                } else {
                    for (int k = kk; k < ke; k++, src += lda, d += MR) {
                        for (int i = 0; i < MR; i++) {
                            ap[d + i] = a[src + i];
                        }
                    }
                }
            }
            if (rem > 0) {
                int src = aOff + (k0 + kk) * lda + m0 + full * MR, d = full * MR * kc + kk * MR;
                for (int k = kk; k < ke; k++, src += lda, d += MR) {
                    for (int i = 0; i < MR; i++) {
                        ap[d + i] = i < rem ? a[src + i] : 0f;
                    }
                }
            }
        }
    }

    /**
     * The first MR lanes of a vector, or null if MR is wider than a vector. The packing code uses
     * masks of the kernels' one species, not a narrower species: with 8-lane vectors here and
     * 16-lane ones in the kernels, the Vector API's shared methods (fromArray, add) saw two vector
     * classes in their profiles, and C2 once compiled the micro-kernel's C tile updates as virtual
     * calls on boxed vectors.
     */
    static final VectorMask<Float> MR_LANES = MR > L ? null : VectorMask.fromLong(S, (1L << MR) - 1);

    /**
     * Tasks per thread of one B block. The tasks are handed out dynamically, so a thread that the
     * machine slows (a shared host, a JIT or GC thread on its core) takes fewer of them; with 3 the
     * last one left the other thread waiting up to a sixth of the block. 8 against 3, 2 threads on
     * Zen 3, interleaved with OpenBLAS (bench GemmVsBlas, all 12 cases twice each): mean ratio of
     * the medians 0.80 -> 0.85; 2048³ NT alone, best of 8 in fresh JVMs, 107-115 -> 117-128 GFLOP/s,
     * where two independent one-thread products made 113-146 together. bitnet.gemm.tasks overrides
     * it, for tuning runs only.
     */
    static final int TASKS_PER_THREAD = Math.max(1, Integer.getInteger("bitnet.gemm.tasks", 8));

    /**
     * The task grid of one B block (row groups << 32 | panel groups): about {@link
     * #TASKS_PER_THREAD} tasks per thread, rows first (a panel split makes each group pack the same A
     * rows again), panels only when there are fewer strips than tasks.
     */
    static long grid(int T, int strips, int panels) {
        if (T <= 1) {
            return 1L << 32 | 1;
        }
        int tasks = TASKS_PER_THREAD * T;
        int tm = Math.min(strips, tasks);
        int tn = Math.min(panels, (tasks + tm - 1) / tm);
        return (long) tm << 32 | tn;
    }

    /**
     * One task of one B block: C rows [m0, m1) x panels [p0, p1) of the block at column nb, over K
     * block [k0, k0 + kc), on this thread: packs its A rows MC at a time, then panels outside, strips
     * inside.
     */
    static void block(
            int m0,
            int m1,
            int p0,
            int p1,
            int nb,
            int nc,
            int k0,
            int kc,
            boolean first,
            float[] a,
            int aOff,
            int lda,
            boolean aTrans,
            float[] bp,
            float[] c,
            int ldc,
            float[] bias) {
        Scratch s = SCRATCH.get();
        float[] ap = s.a, tile = s.t;
        for (int mb = m0; mb < m1; mb += MC) {
            int mc = Math.min(MC, m1 - mb);
            int ns = (mc + MR - 1) / MR;
            packA(ap, a, aOff, lda, aTrans, mb, mc, k0, kc);
            tiles(0, ns, p0, p1, mb, mc, nb, nc, kc, first, ap, bp, tile, c, ldc, bias);
        }
    }

    /**
     * The tiles of strips [s0, s1) x panels [p0, p1) of a packed A block (rows from mb, mc of them)
     * and the packed B block (columns from nb, nc of them), over one K block of kc.
     */
    static void tiles(
            int s0,
            int s1,
            int p0,
            int p1,
            int mb,
            int mc,
            int nb,
            int nc,
            int kc,
            boolean first,
            float[] ap,
            float[] bp,
            float[] tile,
            float[] c,
            int ldc,
            float[] bias) {
        if (STRIPS_OUTER_L2) {
            // panels in groups that fit half the L2, strips outside within a group, so
            // consecutive C tiles are consecutive in memory and the hardware prefetches them
            // (panels outside, each C tile is a load miss at the end of a short kernel: rows 4
            // apart are 4 ldc apart, a new page each). Accumulating, NN 4096x512x192 (K = 192),
            // 1 thread: 57 -> 67 GFLOP/s, ~0.72x -> ~0.85x OpenBLAS. The first K block too,
            // where tile() fills the C tile before the kernel adds into it: the fill's stores
            // missed the same way. NT, 1 thread, Zen 3, the two orders alternated call by call
            // (medians of 25): 4096x192x512 12.35 -> 11.46 ms, 4096x192x8192 204 -> 185 ms,
            // other forward shapes 0-3% faster; 2 threads within +-3% either way
            int group = GROUP_OVERRIDE > 0 ? GROUP_OVERRIDE : (int) Math.max(1, Blocking.L2 / 2 / (4L * kc * NR));
            for (int pg = p0; pg < p1; pg += group) {
                int pe = Math.min(p1, pg + group);
                for (int st = s0; st < s1; st++) {
                    for (int p = pg; p < pe; p++) {
                        tile(st, p, mb, mc, nb, nc, kc, first, ap, bp, tile, c, ldc, bias);
                    }
                }
            }
            return;
        }
        for (int p = p0; p < p1; p++) {
            for (int st = s0; st < s1; st++) {
                tile(st, p, mb, mc, nb, nc, kc, first, ap, bp, tile, c, ldc, bias);
            }
        }
    }

    /** One micro-tile: strip st of the packed A block times panel p of the packed B block, into C. */
    private static void tile(
            int st,
            int p,
            int mb,
            int mc,
            int nb,
            int nc,
            int kc,
            boolean first,
            float[] ap,
            float[] bp,
            float[] tile,
            float[] c,
            int ldc,
            float[] bias) {
        int m = mb + st * MR, n = nb + p * NR;
        int rows = Math.min(MR, mc - st * MR), cols = Math.min(NR, nc - p * NR);
        int ao = st * MR * kc, bo = p * kc * NR;
        if (first) {
            // C starts at the bias (or 0); every K block adds into it
            for (int i = 0; i < rows; i++) {
                int o = (m + i) * ldc + n;
                if (bias == null) {
                    Arrays.fill(c, o, o + cols, 0f);
                } else {
                    System.arraycopy(bias, n, c, o, cols);
                }
            }
        }
        if (rows == MR && cols == NR) {
            kernel(kc, ap, ao, bp, bo, c, m * ldc + n, ldc);
        } else {
            Arrays.fill(tile, 0f);
            kernel(kc, ap, ao, bp, bo, tile, 0, NR);
            for (int i = 0; i < rows; i++) {
                for (int j = 0; j < cols; j++) {
                    c[(m + i) * ldc + n + j] += tile[i * NR + j];
                }
            }
        }
    }

    /**
     * Packs A[m0..m0+mc) x [k0..k0+kc) as strips of MR rows, each k-major (ap[s*MR*kc + k*MR + i]:
     * the MR values of one k step side by side, what the kernel broadcasts), zero rows past mc.
     */
    static void packA(float[] ap, float[] a, int aOff, int lda, boolean aTrans, int m0, int mc, int k0, int kc) {
        packA(ap, a, aOff, lda, aTrans, m0, mc, k0, kc, !Parallel.scalarTwin(PACK_A_COLD, (long) mc * kc));
    }

    /** A's copies in a 256-token forward of a 15.7M Llama: ~5M elements, in calls of one (mc, kc) block each. */
    static final Parallel.ColdBudget PACK_A_COLD = new Parallel.ColdBudget(8_000_000L);

    /** {@link #packA}, with the register transpose of row-major A (vector) or a scalar copy: the same values. */
    static void packA(
            float[] ap, float[] a, int aOff, int lda, boolean aTrans, int m0, int mc, int k0, int kc, boolean vector) {
        int ns = (mc + MR - 1) / MR, full = mc / MR;
        if (full < ns) {
            Arrays.fill(ap, full * MR * kc, ns * MR * kc, 0f);
        }
        // full strips copy MR values per k step in a loop of constant trip count, which C2 unrolls
        // (a loop to a variable row count packed at 2.1-2.4 ns an element, ~40% of TN's time)
        if (aTrans) {
            packAT(ap, a, aOff, lda, m0, mc, k0, kc, 0, kc, vector);
            return;
        }
        // row-major: 4 rows x L k steps are transposed in registers (two rounds of two-vector
        // zips) into L/4 k steps of the strip, 0.45-0.5 ns an element against 0.8-1.3 for the
        // scalar copy below; ~25% of NN's time on the demo shapes (N = 192) before. At start-up the
        // scalar copy runs instead (Parallel.scalarTwin; the same values): the shuffles ran through
        // the Vector API's Java fallback for a second, 12% of a cold one-window ppl
        int st = 0;
        if (MR == 4 && L >= 4 && vector) {
            for (; st < full; st++) {
                int s0 = aOff + (m0 + st * MR) * lda + k0, d = st * MR * kc, k = 0;
                for (; k + L <= kc; k += L, d += 4 * L) {
                    FloatVector r0 = FloatVector.fromArray(S, a, s0 + k);
                    FloatVector r1 = FloatVector.fromArray(S, a, s0 + lda + k);
                    FloatVector r2 = FloatVector.fromArray(S, a, s0 + 2 * lda + k);
                    FloatVector r3 = FloatVector.fromArray(S, a, s0 + 3 * lda + k);
                    FloatVector lo01 = r0.rearrange(ZIP_LO, r1), hi01 = r0.rearrange(ZIP_HI, r1);
                    FloatVector lo23 = r2.rearrange(ZIP_LO, r3), hi23 = r2.rearrange(ZIP_HI, r3);
                    lo01.rearrange(PAIR_LO, lo23).intoArray(ap, d);
                    lo01.rearrange(PAIR_HI, lo23).intoArray(ap, d + L);
                    hi01.rearrange(PAIR_LO, hi23).intoArray(ap, d + 2 * L);
                    hi01.rearrange(PAIR_HI, hi23).intoArray(ap, d + 3 * L);
                }
                for (; k < kc; k++, d += 4) {
                    for (int i = 0; i < 4; i++) {
                        ap[d + i] = a[s0 + i * lda + k];
                    }
                }
            }
        }
        // six rows (the 6 x 2 tile of 512-bit vectors): rows in pairs through two-vector rearranges,
        // blended into the six output vectors of L k steps (before, a scalar copy: 27% of NN
        // 4096x192x8192's time on one Zen 4 core, where the SGEMM ran at 0.78x OpenBLAS)
        if (MR == 6 && vector) {
            for (; st < full; st++) {
                int s0 = aOff + (m0 + st * MR) * lda + k0, d = st * MR * kc, k = 0;
                for (; k + L <= kc; k += L, d += 6 * L) {
                    FloatVector r0 = FloatVector.fromArray(S, a, s0 + k);
                    FloatVector r1 = FloatVector.fromArray(S, a, s0 + lda + k);
                    FloatVector r2 = FloatVector.fromArray(S, a, s0 + 2 * lda + k);
                    FloatVector r3 = FloatVector.fromArray(S, a, s0 + 3 * lda + k);
                    FloatVector r4 = FloatVector.fromArray(S, a, s0 + 4 * lda + k);
                    FloatVector r5 = FloatVector.fromArray(S, a, s0 + 5 * lda + k);
                    r0.rearrange(X0A, r1)
                            .blend(r2.rearrange(X0B, r3), K0B)
                            .blend(r4.rearrange(X0C, r5), K0C)
                            .intoArray(ap, d + 0);
                    r0.rearrange(X1A, r1)
                            .blend(r2.rearrange(X1B, r3), K1B)
                            .blend(r4.rearrange(X1C, r5), K1C)
                            .intoArray(ap, d + L);
                    r0.rearrange(X2A, r1)
                            .blend(r2.rearrange(X2B, r3), K2B)
                            .blend(r4.rearrange(X2C, r5), K2C)
                            .intoArray(ap, d + 2 * L);
                    r0.rearrange(X3A, r1)
                            .blend(r2.rearrange(X3B, r3), K3B)
                            .blend(r4.rearrange(X3C, r5), K3C)
                            .intoArray(ap, d + 3 * L);
                    r0.rearrange(X4A, r1)
                            .blend(r2.rearrange(X4B, r3), K4B)
                            .blend(r4.rearrange(X4C, r5), K4C)
                            .intoArray(ap, d + 4 * L);
                    r0.rearrange(X5A, r1)
                            .blend(r2.rearrange(X5B, r3), K5B)
                            .blend(r4.rearrange(X5C, r5), K5C)
                            .intoArray(ap, d + 5 * L);
                }
                for (; k < kc; k++, d += 6) {
                    for (int i = 0; i < 6; i++) {
                        ap[d + i] = a[s0 + i * lda + k];
                    }
                }
            }
        }
        for (int r = st * MR; r < mc; r++) {
            int src = aOff + (m0 + r) * lda + k0;
            for (int k = 0, d = r / MR * MR * kc + r % MR; k < kc; k++, d += MR) {
                ap[d] = a[src + k];
            }
        }
    }

    /**
     * For the warm-up thread ({@code Warmup.gemm}): packs a row-major block of rows x kc (lda = kc)
     * with the vector path. At start-up packA runs its scalar copy, so C2 compiled it with the
     * vector path as an uncommon trap; when a twin budget closed and the vector path first ran, packA
     * deoptimized and ran the transposes through the Vector API's Java fallback until C2 compiled
     * it again (~0.25 s of a cold 8-window ppl of a 15.7M Llama, JFR, Zen 3). Exercised here
     * first, it is compiled with both paths.
     */
    public static void packWarmUp(float[] ap, float[] a, int rows, int kc) {
        packA(ap, a, 0, kc, false, 0, rows, 0, kc, true);
    }

    /**
     * Two-vector shuffles of the 4-row transpose: ZIP interleaves the lanes of two vectors
     * (a0 b0 a1 b1 ..., low or high half), PAIR interleaves their lane pairs (a0 a1 b0 b1 ...).
     */
    static final VectorShuffle<Float> ZIP_LO = zip(1, 0),
            ZIP_HI = zip(1, L / 2),
            PAIR_LO = zip(2, 0),
            PAIR_HI = zip(2, L / 2);

    /**
     * The 6-row transpose of {@link #packA}: output vector j (flat positions jL .. jL+L-1 of six rows x
     * L k steps, position p = k * 6 + i) takes row i = 2m or 2m + 1 from the rearrange of rows 2m,
     * 2m + 1 (shuffle XjA, XjB, XjC for m = 0, 1, 2) where mask KjB / KjC says. Constants, one field
     * each, so that C2 sees them as such.
     */
    static final VectorShuffle<Float> X0A = six(0, 0),
            X0B = six(0, 1),
            X0C = six(0, 2),
            X1A = six(1, 0),
            X1B = six(1, 1),
            X1C = six(1, 2),
            X2A = six(2, 0),
            X2B = six(2, 1),
            X2C = six(2, 2),
            X3A = six(3, 0),
            X3B = six(3, 1),
            X3C = six(3, 2),
            X4A = six(4, 0),
            X4B = six(4, 1),
            X4C = six(4, 2),
            X5A = six(5, 0),
            X5B = six(5, 1),
            X5C = six(5, 2);

    static final VectorMask<Float> K0B = sixMask(0, 1),
            K0C = sixMask(0, 2),
            K1B = sixMask(1, 1),
            K1C = sixMask(1, 2),
            K2B = sixMask(2, 1),
            K2C = sixMask(2, 2),
            K3B = sixMask(3, 1),
            K3C = sixMask(3, 2),
            K4B = sixMask(4, 1),
            K4C = sixMask(4, 2),
            K5B = sixMask(5, 1),
            K5C = sixMask(5, 2);

    /** Lane l of output vector j: (row i, k step k) = ((jL + l) % 6, (jL + l) / 6), from rows 2m and 2m + 1 (0 elsewhere). */
    static VectorShuffle<Float> six(int j, int m) {
        int[] ix = new int[L];
        for (int l = 0; l < L; l++) {
            int p = j * L + l, k = p / 6, i = p % 6;
            ix[l] = i / 2 == m ? (i % 2 == 0 ? k : L + k) : 0;
        }
        return VectorShuffle.fromArray(S, ix, 0);
    }

    /** The lanes of output vector j that come from rows 2m and 2m + 1. */
    static VectorMask<Float> sixMask(int j, int m) {
        boolean[] b = new boolean[L];
        for (int l = 0; l < L; l++) {
            b[l] = (j * L + l) % 6 / 2 == m;
        }
        return VectorMask.fromArray(S, b, 0);
    }

    /** Interleaves groups of g lanes of two vectors (second one's lanes numbered L..2L-1), from lane `from` on. */
    static VectorShuffle<Float> zip(int g, int from) {
        int[] ix = new int[L];
        for (int i = 0; i < L; i++) {
            int group = i / (2 * g), within = i % (2 * g);
            ix[i] = from + group * g + (within < g ? within : L + within - g);
        }
        return VectorShuffle.fromArray(S, ix, 0);
    }

    /**
     * The micro-kernel of this tile: the C tile c[co + i*ldc + j] += A strip · B panel over kc, with
     * A packed k-major (ap[ao + k*MR + i]) and B packed k-major (bp[bo + k*NR + j]). One kernel for
     * every call site: C2 sees one profile. Each index in its loop is the counter times a constant
     * plus an invariant, so C2 removes every bounds check; the loop stays one k step (unrolled by
     * hand, C2 hoisted the next step's loads and spilled accumulators). The C tile updates are
     * written out, not calls of a helper: C2 reached its inlining node cutoff (NodeCountInliningCutoff)
     * at the last of the twelve and left it a call that passed a boxed vector to the helper, in the
     * interpreter or C1 while that helper was cold, that is the Vector API's Java fallback: in about
     * one cold `ppl` of a 15.7M Llama in eight, 11 s instead of 5 (JFR). The Vector API's own methods
     * are force-inlined past the cutoff.
     */
    static void kernel(int kc, float[] ap, int ao, float[] bp, int bo, float[] c, int co, int ldc) {
        if (TILE == 33) {
            kernel3x3(kc, ap, ao, bp, bo, c, co, ldc);
        } else if (TILE == 62) {
            kernel6x2(kc, ap, ao, bp, bo, c, co, ldc);
        } else {
            kernel4x2(kc, ap, ao, bp, bo, c, co, ldc);
        }
    }

    /** 3 rows x 3 vectors: 9 accumulators, 3 B loads and 3 broadcasts per k (15 registers). */
    static void kernel3x3(int kc, float[] ap, int ao, float[] bp, int bo, float[] c, int co, int ldc) {
        FloatVector c00 = FloatVector.zero(S);
        FloatVector c01 = c00, c02 = c00, c10 = c00, c11 = c00, c12 = c00, c20 = c00;
        FloatVector c21 = c00, c22 = c00;
        // one induction variable: the A index; the B index is a multiple of it (NR / MR = 3 * L / 3)
        int boff = bo - ao * (3 * L / 3), aEnd = ao + kc * 3;
        for (int ak = ao; ak < aEnd; ak += 3) {
            int bk = ak * (3 * L / 3) + boff;
            FloatVector b0 = FloatVector.fromArray(S, bp, bk);
            FloatVector b1 = FloatVector.fromArray(S, bp, bk + L);
            FloatVector b2 = FloatVector.fromArray(S, bp, bk + 2 * L);
            FloatVector x0 = FloatVector.broadcast(S, ap[ak]);
            c00 = b0.fma(x0, c00);
            c01 = b1.fma(x0, c01);
            c02 = b2.fma(x0, c02);
            FloatVector x1 = FloatVector.broadcast(S, ap[ak + 1]);
            c10 = b0.fma(x1, c10);
            c11 = b1.fma(x1, c11);
            c12 = b2.fma(x1, c12);
            FloatVector x2 = FloatVector.broadcast(S, ap[ak + 2]);
            c20 = b0.fma(x2, c20);
            c21 = b1.fma(x2, c21);
            c22 = b2.fma(x2, c22);
        }
        FloatVector.fromArray(S, c, co).add(c00).intoArray(c, co);
        FloatVector.fromArray(S, c, co + L).add(c01).intoArray(c, co + L);
        FloatVector.fromArray(S, c, co + 2 * L).add(c02).intoArray(c, co + 2 * L);
        FloatVector.fromArray(S, c, co + ldc).add(c10).intoArray(c, co + ldc);
        FloatVector.fromArray(S, c, co + ldc + L).add(c11).intoArray(c, co + ldc + L);
        FloatVector.fromArray(S, c, co + ldc + 2 * L).add(c12).intoArray(c, co + ldc + 2 * L);
        FloatVector.fromArray(S, c, co + 2 * ldc).add(c20).intoArray(c, co + 2 * ldc);
        FloatVector.fromArray(S, c, co + 2 * ldc + L).add(c21).intoArray(c, co + 2 * ldc + L);
        FloatVector.fromArray(S, c, co + 2 * ldc + 2 * L).add(c22).intoArray(c, co + 2 * ldc + 2 * L);
    }

    /** 4 rows x 2 vectors: 8 accumulators, 2 B loads and 4 broadcasts per k (14 registers). */
    static void kernel4x2(int kc, float[] ap, int ao, float[] bp, int bo, float[] c, int co, int ldc) {
        FloatVector c00 = FloatVector.zero(S);
        FloatVector c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00;
        FloatVector c31 = c00;
        // one induction variable: the A index; the B index is a multiple of it (NR / MR = 2 * L / 4)
        int boff = bo - ao * (2 * L / 4), aEnd = ao + kc * 4;
        for (int ak = ao; ak < aEnd; ak += 4) {
            int bk = ak * (2 * L / 4) + boff;
            FloatVector b0 = FloatVector.fromArray(S, bp, bk);
            FloatVector b1 = FloatVector.fromArray(S, bp, bk + L);
            FloatVector x0 = FloatVector.broadcast(S, ap[ak]);
            c00 = b0.fma(x0, c00);
            c01 = b1.fma(x0, c01);
            FloatVector x1 = FloatVector.broadcast(S, ap[ak + 1]);
            c10 = b0.fma(x1, c10);
            c11 = b1.fma(x1, c11);
            FloatVector x2 = FloatVector.broadcast(S, ap[ak + 2]);
            c20 = b0.fma(x2, c20);
            c21 = b1.fma(x2, c21);
            FloatVector x3 = FloatVector.broadcast(S, ap[ak + 3]);
            c30 = b0.fma(x3, c30);
            c31 = b1.fma(x3, c31);
        }
        FloatVector.fromArray(S, c, co).add(c00).intoArray(c, co);
        FloatVector.fromArray(S, c, co + L).add(c01).intoArray(c, co + L);
        FloatVector.fromArray(S, c, co + ldc).add(c10).intoArray(c, co + ldc);
        FloatVector.fromArray(S, c, co + ldc + L).add(c11).intoArray(c, co + ldc + L);
        FloatVector.fromArray(S, c, co + 2 * ldc).add(c20).intoArray(c, co + 2 * ldc);
        FloatVector.fromArray(S, c, co + 2 * ldc + L).add(c21).intoArray(c, co + 2 * ldc + L);
        FloatVector.fromArray(S, c, co + 3 * ldc).add(c30).intoArray(c, co + 3 * ldc);
        FloatVector.fromArray(S, c, co + 3 * ldc + L).add(c31).intoArray(c, co + 3 * ldc + L);
    }

    /** 6 rows x 2 vectors: 12 accumulators, 2 B loads and 6 broadcasts per k (20 registers). */
    static void kernel6x2(int kc, float[] ap, int ao, float[] bp, int bo, float[] c, int co, int ldc) {
        FloatVector c00 = FloatVector.zero(S);
        FloatVector c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00;
        FloatVector c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
        for (int k = 0; k < kc; k++) {
            int ak = ao + k * 6, bk = bo + k * 2 * L;
            FloatVector b0 = FloatVector.fromArray(S, bp, bk);
            FloatVector b1 = FloatVector.fromArray(S, bp, bk + L);
            FloatVector x0 = FloatVector.broadcast(S, ap[ak]);
            c00 = b0.fma(x0, c00);
            c01 = b1.fma(x0, c01);
            FloatVector x1 = FloatVector.broadcast(S, ap[ak + 1]);
            c10 = b0.fma(x1, c10);
            c11 = b1.fma(x1, c11);
            FloatVector x2 = FloatVector.broadcast(S, ap[ak + 2]);
            c20 = b0.fma(x2, c20);
            c21 = b1.fma(x2, c21);
            FloatVector x3 = FloatVector.broadcast(S, ap[ak + 3]);
            c30 = b0.fma(x3, c30);
            c31 = b1.fma(x3, c31);
            FloatVector x4 = FloatVector.broadcast(S, ap[ak + 4]);
            c40 = b0.fma(x4, c40);
            c41 = b1.fma(x4, c41);
            FloatVector x5 = FloatVector.broadcast(S, ap[ak + 5]);
            c50 = b0.fma(x5, c50);
            c51 = b1.fma(x5, c51);
        }
        FloatVector.fromArray(S, c, co).add(c00).intoArray(c, co);
        FloatVector.fromArray(S, c, co + L).add(c01).intoArray(c, co + L);
        FloatVector.fromArray(S, c, co + ldc).add(c10).intoArray(c, co + ldc);
        FloatVector.fromArray(S, c, co + ldc + L).add(c11).intoArray(c, co + ldc + L);
        FloatVector.fromArray(S, c, co + 2 * ldc).add(c20).intoArray(c, co + 2 * ldc);
        FloatVector.fromArray(S, c, co + 2 * ldc + L).add(c21).intoArray(c, co + 2 * ldc + L);
        FloatVector.fromArray(S, c, co + 3 * ldc).add(c30).intoArray(c, co + 3 * ldc);
        FloatVector.fromArray(S, c, co + 3 * ldc + L).add(c31).intoArray(c, co + 3 * ldc + L);
        FloatVector.fromArray(S, c, co + 4 * ldc).add(c40).intoArray(c, co + 4 * ldc);
        FloatVector.fromArray(S, c, co + 4 * ldc + L).add(c41).intoArray(c, co + 4 * ldc + L);
        FloatVector.fromArray(S, c, co + 5 * ldc).add(c50).intoArray(c, co + 5 * ldc);
        FloatVector.fromArray(S, c, co + 5 * ldc + L).add(c51).intoArray(c, co + 5 * ldc + L);
    }
}
