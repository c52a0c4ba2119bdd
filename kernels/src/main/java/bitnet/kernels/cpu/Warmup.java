package bitnet.kernels.cpu;

import bitnet.io.DType;
import bitnet.io.Packing;
import bitnet.kernels.Buf;
import bitnet.kernels.Weight;
import bitnet.kernels.cpu.gemm.PackB;
import bitnet.kernels.cpu.gemm.Sgemm;
import bitnet.kernels.ternary.TernaryWeight;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Gets kernels compiled by C2 while the process is still loading: the first {@link VectorKernels}
 * (or {@link VectorKernels#warmUp}) starts one daemon thread that runs kernels on tiny private
 * operands. Without it a short command (one `ppl` window, a few generated tokens) spends much of its
 * time in Vector API code that is not yet intrinsified (VectorSupport.ternaryOp and friends run as
 * Java loops over boxed lanes until C2 compiles the caller). Results are thrown away; it uses one
 * thread, never the backend's pool.
 *
 * <p>By default it runs the SGEMM's micro-kernel only, until a call runs compiled ({@link #gemm}):
 * the one kernel that is most of every forward. One-window ppl of a 15.7M Llama, Zen 3, 2 cores,
 * interleaved medians of 10: 1.95 -> 1.87 s.
 *
 * <p>Every kernel ({@code -Dbitnet.warmup=true}, {@link #exercise}) costs more than it saves: on
 * the shared 2-core Zen 3 under a load average of ~30, one window took 1.19x the wall and CPU time
 * with it (4 interleaved pairs), its ~1.6 s of CPU (interpreted vector code, extra C1/C2 work)
 * being pure cost where no core is idle; on the idle machine (2026-12-01 18:13) 4.83 s against 3.59
 * s. Warming the attention tiles and the loss the same way as the SGEMM (2026-12-02) got them to C2
 * too late for the first forward, and the real shapes then hit paths the tiny ones never took
 * (uncommon traps, recompiles): their scalar twins ({@link Parallel#scalarTwin}) serve start-up
 * better.
 */
final class Warmup {
    private static final AtomicBoolean STARTED = new AtomicBoolean();
    /** Enough calls for C2's thresholds (invocations plus loop back-edges) on every kernel below. */
    private static final int ROUNDS = Integer.getInteger("bitnet.warmup.rounds", 60);

    private Warmup() {}

    /**
     * Starts the warm-up thread once per process (no-op when off or already started). The property
     * bitnet.warmup: {@code gemm} (the default: {@link #gemm} only), {@code true} (every kernel,
     * {@link #exercise}) or {@code false}.
     */
    static void start() {
        String mode = System.getProperty("bitnet.warmup", "gemm");
        boolean all = Boolean.parseBoolean(mode);
        if (!(all || mode.equals("gemm")) || !STARTED.compareAndSet(false, true)) {
            return;
        }
        Thread t = new Thread(
                () -> {
                    try {
                        if (all) {
                            exercise(ROUNDS);
                        } else {
                            gemm(GEMM_CALLS);
                        }
                    } catch (RuntimeException | Error e) {
                        // a warm-up never fails a command: the real call reports any real problem
                    }
                },
                "bitnet-kernel-warmup");
        t.setDaemon(true);
        t.setPriority(Thread.MIN_PRIORITY);
        t.start();
    }

    /** Micro-kernel calls that pass C2's thresholds without the launcher's scaling (with it: ~60). */
    private static final int GEMM_CALLS = 700;

    /**
     * Runs the SGEMM on one private micro-tile, single-threaded, until its kernel runs compiled: it
     * is most of any forward, and until C2 compiles it the Vector API code runs its Java fallback
     * (~0.3 s of a cold one-window ppl of a 15.7M Llama, Zen 3). Started while the command line
     * is parsed and the model loads, so that C2 compiles it before the first real call. A call in
     * the fallback takes about a millisecond, a compiled one a microsecond: after enough calls to
     * reach the thresholds it only checks every 2 ms (a sleep, leaving the core to the command and
     * to C2) whether a call has become fast, for at most 2 s. Each round also packs its A block
     * with the vector transposes ({@link Sgemm#packWarmUp}), which start-up calls never take.
     */
    static void gemm(int calls) {
        int M = Sgemm.MR, N = Sgemm.NR, K = 32;
        java.util.Random r = new java.util.Random(1);
        float[] a = rand(r, M * K), b = rand(r, K * N), c = new float[M * N], ap = new float[M * K];
        PackB pb = PackB.rowMajor(b, N);
        long deadline = System.nanoTime() + 2_000_000_000L;
        for (int i = 0; System.nanoTime() < deadline; i++) {
            long t0 = System.nanoTime();
            Sgemm.gemm(null, M, N, K, a, 0, K, false, pb, c, N, true, null);
            Sgemm.packWarmUp(ap, a, M, K); // A packing's vector path too (see there)
            if (System.nanoTime() - t0 < 20_000) {
                return; // compiled
            }
            if (i >= calls) {
                try {
                    Thread.sleep(2);
                } catch (InterruptedException e) {
                    return;
                }
            }
        }
    }

    /** Runs every forward kernel rounds times on tiny private operands (package-visible for its test). */
    static void exercise(int rounds) {
        try (VectorKernels k = new VectorKernels(1)) {
            // shapes: a few micro-tiles and K blocks, head size 64, vocabulary 256
            int N = 24, C = 64, OC = 80, T = 24, NH = 2, NKV = 1, HS = 32, V = 256;
            java.util.Random r = new java.util.Random(1);
            float[] w = rand(r, OC * C), x = rand(r, N * C), wv = rand(r, V * C);
            Weight f32 = k.weight(k.upload(w), OC, C);
            byte[] bf = new byte[OC * C * 2];
            for (int i = 0; i < OC * C; i++) {
                int b = Float.floatToRawIntBits(w[i]) >>> 16;
                bf[2 * i] = (byte) b;
                bf[2 * i + 1] = (byte) (b >>> 8);
            }
            Weight bf16 = new StoredWeight(MemorySegment.ofArray(bf), DType.BF16, OC, C);
            byte[] q = new byte[OC * C], q8 = new byte[V * C];
            for (int i = 0; i < q.length; i++) {
                q[i] = (byte) (r.nextInt(3) - 1);
            }
            r.nextBytes(q8);
            float[] sc = new float[OC], sv = new float[V];
            java.util.Arrays.fill(sc, 0.1f);
            java.util.Arrays.fill(sv, 0.01f);
            Weight tern = TernaryWeight.pack(Packing.TWO_BIT, q, sc, OC, C).withParallel(false);
            Weight int8 = new Int8Weight(MemorySegment.ofArray(q8), sv, V, C);
            Buf in = k.upload(x),
                    out = k.alloc((long) N * Math.max(OC, V)),
                    rstd = k.alloc(N),
                    nw = k.upload(rand(r, C));
            Buf qkv = k.upload(rand(r, T * NH * HS)),
                    kk = k.upload(rand(r, T * NKV * HS)),
                    vv = k.upload(rand(r, T * NKV * HS));
            Buf att = k.alloc(k.attentionStateSize(1, NH, T)), ao = k.alloc((long) T * NH * HS);
            Buf cos = k.upload(rand(r, T * HS / 2)), sin = k.upload(rand(r, T * HS / 2));
            Buf g = k.upload(rand(r, N * C)), losses = k.alloc(N), logits = k.alloc((long) N * V);
            int[] targets = new int[N], ids = new int[N];
            for (int i = 0; i < N; i++) {
                targets[i] = r.nextInt(V);
                ids[i] = r.nextInt(V);
            }
            for (int round = 0; round < rounds; round++) {
                for (Weight wt : new Weight[] {f32, bf16, tern}) {
                    k.matmul(out, in, wt, null, N, C, OC); // batch: SGEMM (ternary: the batch table kernel, or panels)
                    k.matmul(out, in, wt, null, 1, C, OC); // batch 1: row dot products
                }
                k.matmul(logits, in, int8, null, N, C, V);
                k.matmul(logits, in, int8, null, 1, C, V);
                k.embedding(out, ids, int8, null, 1, N, C, 0);
                k.rmsnorm(out, rstd, in, nw, N, C, 1e-5f);
                k.rope(qkv, cos, sin, 1, T, NH, HS, 0);
                k.attention(ao, att, qkv, kk, vv, 1, T, T, NH, NKV, HS, 0);
                k.swiglu(out, in, g, (long) N * C);
                k.add(out, in, g, (long) N * C);
                k.crossEntropy(losses, null, logits, targets, N, V, 0f);
            }
        }
    }

    private static float[] rand(java.util.Random r, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) r.nextGaussian() * 0.5f;
        }
        return a;
    }
}
