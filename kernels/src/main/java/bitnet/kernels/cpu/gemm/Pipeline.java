package bitnet.kernels.cpu.gemm;

import bitnet.kernels.cpu.Parallel;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;

/**
 * The tasks of one multi-threaded {@link Sgemm#gemm} call as a single list, handed out in order by
 * one {@link Parallel#forTasks} loop, each task waiting only for the earlier tasks whose data it
 * needs, instead of two parallel loops (pack, then compute) per block with a barrier after each.
 *
 * <p>The call is cut in steps: (B block, K block), and for transposed A with few rows per task also
 * A block ({@link Sgemm#SHARED_A_ROWS}). A step's tasks are its packing tasks (B panels, when the
 * step is the first of its B and K block; slices of k of the shared A block), then its compute tasks
 * (a grid of C tiles, {@link Sgemm#grid}). Two buffers of each kind alternate between steps, so the
 * packing of the next step runs while the last tiles of this one are computed. The waits:
 *
 * <ul>
 *   <li>a packing task of step s, until every compute task of the steps up to s - 2 (the last users
 *       of the buffers it writes) is done;
 *   <li>a compute task, until its step's packing (and that of the step that packed its B block) is
 *       done, and until the same C tile of the previous step of its B and A block is done: every
 *       element of C is summed in the same K-block order as on one thread, so the bits do not
 *       depend on the thread count or on which thread ran what.
 * </ul>
 *
 * A task waits only for tasks before it in the list, which have all been handed out to running
 * threads, so the earliest unfinished task can always go on: no deadlock. Run on the caller alone
 * (start-up, {@link Parallel}'s small loops), every wait is already satisfied.
 *
 * <p>Why: with a barrier after each loop, a thread that had finished its share waited for the
 * other's last task twice per K block; TN 4096x192x512 (K = 4096, 16 K blocks, 32 loops) on 2
 * threads spent about a quarter of its thread time in those waits (JFR, Zen 4) and ran at
 * 0.80-0.90x OpenBLAS.
 */
final class Pipeline implements Parallel.Tasks {
    private final float[] a;
    private final int aOff, lda;
    private final boolean aTrans;
    private final PackB b;
    private final float[] c;
    private final int ldc;
    private final float[] bias;
    private final float[][] bBufs, aBufs;

    // per step
    private final int[] nb, nc, k0, kc, mb, mc, tm, tn, packB, packA, start, bStep, prevStep, bBuf, tileBase;
    private final boolean[] shared, vector, first;
    private final int steps, tasks;
    private final long work;
    /** The step of each task. */
    private final int[] taskStep;

    private final AtomicIntegerArray packDone, computeDone, tileDone;
    /** Every step up to this one has all its compute tasks done. */
    private final AtomicInteger computedPrefix = new AtomicInteger(-1);

    private volatile Throwable failed;

    Pipeline(
            int T,
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
            float[] bias,
            float[][] bBufs,
            float[][] aBufs) {
        this.a = a;
        this.aOff = aOff;
        this.lda = lda;
        this.aTrans = aTrans;
        this.b = b;
        this.c = c;
        this.ldc = ldc;
        this.bias = bias;
        this.bBufs = bBufs;
        this.aBufs = aBufs;
        int strips = (M + Sgemm.MR - 1) / Sgemm.MR;
        int count = 0;
        int NC = Sgemm.blockCols(K);
        for (int n0 = 0; n0 < N; n0 += NC) {
            int np = (Math.min(NC, N - n0) + Sgemm.NR - 1) / Sgemm.NR;
            int blocks = sharedA(aTrans, T, M, strips, np) ? (M + Sgemm.MC - 1) / Sgemm.MC : 1;
            count += blocks * ((K + Sgemm.KC - 1) / Sgemm.KC);
        }
        steps = count;
        nb = new int[steps];
        nc = new int[steps];
        k0 = new int[steps];
        kc = new int[steps];
        mb = new int[steps];
        mc = new int[steps];
        tm = new int[steps];
        tn = new int[steps];
        packB = new int[steps];
        packA = new int[steps];
        start = new int[steps + 1];
        bStep = new int[steps];
        prevStep = new int[steps];
        bBuf = new int[steps];
        tileBase = new int[steps + 1];
        shared = new boolean[steps];
        vector = new boolean[steps];
        first = new boolean[steps];
        int s = 0, ordinal = 0;
        long w = 0;
        for (int n0 = 0; n0 < N; n0 += NC) {
            int ncb = Math.min(NC, N - n0), np = (ncb + Sgemm.NR - 1) / Sgemm.NR;
            boolean sh = sharedA(aTrans, T, M, strips, np);
            int pt = Math.min(np, 2 * T);
            int blockSteps = sh ? (M + Sgemm.MC - 1) / Sgemm.MC : 1;
            for (int kb = 0; kb < K; kb += Sgemm.KC, ordinal++) {
                int kcb = Math.min(Sgemm.KC, K - kb);
                for (int ib = 0; ib < blockSteps; ib++, s++) {
                    int m0 = sh ? ib * Sgemm.MC : 0, mcb = sh ? Math.min(Sgemm.MC, M - m0) : M;
                    long grid = Sgemm.grid(T, sh ? (mcb + Sgemm.MR - 1) / Sgemm.MR : strips, np);
                    nb[s] = n0;
                    nc[s] = ncb;
                    k0[s] = kb;
                    kc[s] = kcb;
                    mb[s] = m0;
                    mc[s] = mcb;
                    tm[s] = (int) (grid >>> 32);
                    tn[s] = (int) grid;
                    shared[s] = sh;
                    first[s] = overwrite && kb == 0;
                    packB[s] = ib == 0 ? pt : 0;
                    packA[s] = sh ? 2 * T : 0;
                    vector[s] = sh && !Parallel.scalarTwin(Sgemm.PACK_A_COLD, (long) mcb * kcb);
                    bStep[s] = s - ib;
                    bBuf[s] = ordinal & 1;
                    // the same tiles one K block earlier: blockSteps steps back, in the same B block
                    prevStep[s] = kb == 0 ? -1 : s - blockSteps;
                    start[s + 1] = start[s] + packB[s] + packA[s] + tm[s] * tn[s];
                    tileBase[s + 1] = tileBase[s] + tm[s] * tn[s];
                    w += (long) mcb * kcb * ncb;
                }
            }
        }
        tasks = start[steps];
        work = w;
        taskStep = new int[tasks];
        for (int i = 0; i < steps; i++) {
            java.util.Arrays.fill(taskStep, start[i], start[i + 1], i);
        }
        packDone = new AtomicIntegerArray(steps);
        computeDone = new AtomicIntegerArray(steps);
        tileDone = new AtomicIntegerArray(tileBase[steps]);
    }

    /** Whether transposed A is packed by all threads together (see {@link Sgemm#SHARED_A_ROWS}). */
    static boolean sharedA(boolean aTrans, int T, int M, int strips, int panels) {
        return aTrans && T > 1 && M < (long) Sgemm.SHARED_A_ROWS * (int) (Sgemm.grid(T, strips, panels) >>> 32);
    }

    void run(Parallel par) {
        par.forTasks(tasks, work, this);
    }

    @Override
    public void run(int task) {
        int s = taskStep[task], i = task - start[s];
        try {
            int packs = packB[s] + packA[s];
            if (i < packs) {
                awaitComputed(s - 2);
                if (i < packB[s]) {
                    int np = (nc[s] + Sgemm.NR - 1) / Sgemm.NR, pt = packB[s];
                    b.packPanels(bBufs[bBuf[s]], np * i / pt, np * (i + 1) / pt, k0[s], kc[s], nb[s], nc[s]);
                } else {
                    int j = i - packB[s], pa = packA[s];
                    Sgemm.packAT(
                            aBufs[s & 1],
                            a,
                            aOff,
                            lda,
                            mb[s],
                            mc[s],
                            k0[s],
                            kc[s],
                            kc[s] * j / pa,
                            kc[s] * (j + 1) / pa,
                            vector[s]);
                }
                packDone.incrementAndGet(s);
                return;
            }
            int t = i - packs;
            await(packDone, s, packs);
            int bs = bStep[s];
            if (bs != s) {
                await(packDone, bs, packB[bs] + packA[bs]);
            }
            if (prevStep[s] >= 0) {
                await(tileDone, tileBase[prevStep[s]] + t, 1);
            }
            compute(s, t);
            tileDone.set(tileBase[s] + t, 1);
            computeDone.incrementAndGet(s);
        } catch (Throwable e) {
            if (failed == null) {
                failed = e;
            }
            throw e;
        }
    }

    private void compute(int s, int t) {
        int i = t / tn[s], j = t % tn[s], TM = tm[s], TN = tn[s];
        int np = (nc[s] + Sgemm.NR - 1) / Sgemm.NR;
        float[] bp = bBufs[bBuf[s]];
        if (shared[s]) {
            int ns = (mc[s] + Sgemm.MR - 1) / Sgemm.MR;
            Sgemm.tiles(
                    ns * i / TM,
                    ns * (i + 1) / TM,
                    np * j / TN,
                    np * (j + 1) / TN,
                    mb[s],
                    mc[s],
                    nb[s],
                    nc[s],
                    kc[s],
                    first[s],
                    aBufs[s & 1],
                    bp,
                    Sgemm.scratchTile(),
                    c,
                    ldc,
                    bias);
        } else {
            int M = mc[s], strips = (M + Sgemm.MR - 1) / Sgemm.MR;
            int m0 = (int) ((long) strips * i / TM) * Sgemm.MR,
                    m1 = Math.min(M, (int) ((long) strips * (i + 1) / TM) * Sgemm.MR);
            Sgemm.block(
                    m0,
                    m1,
                    np * j / TN,
                    np * (j + 1) / TN,
                    nb[s],
                    nc[s],
                    k0[s],
                    kc[s],
                    first[s],
                    a,
                    aOff,
                    lda,
                    aTrans,
                    bp,
                    c,
                    ldc,
                    bias);
        }
    }

    /** Waits until every compute task of the steps up to x is done. */
    private void awaitComputed(int x) {
        for (int p = computedPrefix.get(); p < x; p = computedPrefix.get()) {
            int s = p + 1;
            await(computeDone, s, tm[s] * tn[s]);
            computedPrefix.compareAndSet(p, s);
        }
    }

    /** Spins until counter i of v reaches n (set by another thread's task), or a task failed. */
    private void await(AtomicIntegerArray v, int i, int n) {
        for (int spins = 0; v.get(i) < n; spins++) {
            Thread.onSpinWait();
            if ((spins & 1023) == 1023) {
                Throwable f = failed;
                if (f != null) {
                    throw new IllegalStateException("gemm task failed on another thread", f);
                }
                // more threads than the machine gives us: let the one we wait for run
                Thread.yield();
            }
        }
    }
}
