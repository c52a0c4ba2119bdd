package bitnet.kernels.cuda;

import bitnet.kernels.Buf;
import bitnet.kernels.Kernels;
import bitnet.kernels.cpu.ScalarKernels;
import java.util.Random;

/**
 * A GPU benchmark for bench/gpu-check.sh: checks one small product and one attention against
 * the scalar reference first (a wrong kernel is not timed), then times cuBLAS SGEMM through
 * {@link CudaKernels#matmul} at square and model shapes plus the main non-GEMM kernels, and
 * prints a table. Not a JMH benchmark: the GPU is timed with stream synchronisation.
 * Usage: java ... bitnet.kernels.cuda.CudaBench [seconds-per-row, default 1]
 */
public final class CudaBench {
    private CudaBench() {}

    public static void main(String[] args) {
        double secs = args.length > 0 ? Double.parseDouble(args[0]) : 1.0;
        Object r = CudaKernels.tryCreate();
        if (!(r instanceof CudaKernels g)) {
            System.out.println("no CUDA backend: " + r);
            System.exit(2);
            return;
        }
        try (g) {
            System.out.println("device: " + g.describe());
            verify(g);
            System.out.printf("%-34s %-26s %10s %12s%n", "op", "shape", "ms/call", "rate");
            for (int n : new int[] {1024, 2048, 4096}) {
                gemm(g, "matmul (square)", n, n, n, secs);
            }
            // the demo model's shapes (B*T = 16*256) and the larger config (hidden 1024, vocab 32000)
            gemm(g, "matmul demo qkv-ish", 4096, 192, 192, secs);
            gemm(g, "matmul demo mlp up", 4096, 192, 512, secs);
            gemm(g, "matmul demo lm_head", 4096, 192, 8192, secs);
            gemm(g, "matmul 1024 mlp up", 4096, 1024, 4096, secs);
            gemm(g, "matmul 1024 lm_head", 4096, 1024, 32000, secs);
            backward(g, 4096, 1024, 4096, secs);
            attention(g, 16, 256, 16, 16, 64, secs);
            rowOps(g, 4096, 1024, 32000, secs);
        }
    }

    private static float[] rnd(Random r, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) r.nextGaussian();
        }
        return a;
    }

    /** Agreement before timing: a product and an attention at odd sizes against the reference. */
    private static void verify(CudaKernels g) {
        ScalarKernels ref = new ScalarKernels();
        Random r = new Random(42);
        int N = 67, C = 129, OC = 95;
        float[] x = rnd(r, N * C), w = rnd(r, OC * C);
        float[] e = run(ref, x, w, N, C, OC), a = run(g, x, w, N, C, OC);
        double maxErr = 0;
        for (int i = 0; i < e.length; i++) {
            maxErr = Math.max(maxErr, Math.abs(e[i] - a[i]) / (1 + Math.abs(e[i])));
        }
        System.out.printf("check matmul %dx%dx%d vs scalar reference: max rel err %.2e%n", N, C, OC, maxErr);
        if (maxErr > (Boolean.getBoolean("bitnet.cuda.tf32") ? 1e-2 : 1e-4)) {
            throw new IllegalStateException("CUDA matmul disagrees with the reference: " + maxErr);
        }
    }

    private static float[] run(Kernels k, float[] x, float[] w, int N, int C, int OC) {
        try (Buf bx = k.upload(x);
                Buf bw = k.upload(w);
                Buf o = k.alloc((long) N * OC)) {
            k.matmul(o, bx, k.weight(bw, OC, C), null, N, C, OC);
            return k.download(o);
        }
    }

    /** Runs body until secs have passed (after a warm-up), returns ms per call. */
    private static double time(CudaKernels g, double secs, Runnable body) {
        for (int i = 0; i < 3; i++) {
            body.run();
        }
        g.synchronize();
        int iters = 0;
        long t0 = System.nanoTime();
        long budget = (long) (secs * 1e9);
        while (System.nanoTime() - t0 < budget) {
            for (int i = 0; i < 5; i++) {
                body.run();
            }
            iters += 5;
            g.synchronize();
        }
        return (System.nanoTime() - t0) / 1e6 / iters;
    }

    private static void gemm(CudaKernels g, String what, int N, int C, int OC, double secs) {
        try (Buf x = g.alloc((long) N * C);
                Buf w = g.alloc((long) OC * C);
                Buf o = g.alloc((long) N * OC)) {
            var wt = g.weight(w, OC, C);
            double ms = time(g, secs, () -> g.matmul(o, x, wt, null, N, C, OC));
            row(what, N + "x" + C + "x" + OC, ms, 2.0 * N * C * OC / ms / 1e9, "TFLOP/s");
        }
    }

    private static void backward(CudaKernels g, int N, int C, int OC, double secs) {
        try (Buf x = g.alloc((long) N * C);
                Buf w = g.alloc((long) OC * C);
                Buf d = g.alloc((long) N * OC);
                Buf dx = g.alloc((long) N * C);
                Buf dw = g.alloc((long) OC * C);
                Buf db = g.alloc(OC)) {
            var wt = g.weight(w, OC, C);
            double ms = time(g, secs, () -> g.matmulBackward(dx, dw, db, d, x, wt, N, C, OC));
            row("matmulBackward (dx, dw, db)", N + "x" + C + "x" + OC, ms, 4.0 * N * C * OC / ms / 1e9, "TFLOP/s");
        }
    }

    private static void attention(CudaKernels g, int B, int T, int NH, int NKV, int HS, double secs) {
        long qn = (long) B * T * NH * HS, kn = (long) B * T * NKV * HS;
        try (Buf q = g.alloc(qn);
                Buf k = g.alloc(kn);
                Buf v = g.alloc(kn);
                Buf o = g.alloc(qn);
                Buf att = g.alloc((long) B * NH * T * T);
                Buf dq = g.alloc(qn);
                Buf dk = g.alloc(kn);
                Buf dv = g.alloc(kn)) {
            String sh = "B" + B + " T" + T + " NH" + NH + " HS" + HS;
            double flops = 2.0 * B * NH * (double) T * T * HS; // causal: half of 4·B·NH·T²·HS
            double ms = time(g, secs, () -> g.attention(o, att, q, k, v, B, T, T, NH, NKV, HS, 0));
            row("attention forward", sh, ms, flops / ms / 1e9, "TFLOP/s");
            ms = time(g, secs, () -> g.attentionBackward(dq, dk, dv, o, att, q, k, v, B, T, NH, NKV, HS));
            row("attention backward", sh, ms, 2 * flops / ms / 1e9, "TFLOP/s");
        }
    }

    private static void rowOps(CudaKernels g, int N, int C, int V, double secs) {
        int[] tg = new int[N];
        try (Buf x = g.alloc((long) N * C);
                Buf o = g.alloc((long) N * C);
                Buf w = g.alloc(C);
                Buf rs = g.alloc(N);
                Buf z = g.alloc((long) N * V);
                Buf l = g.alloc(N)) {
            double ms = time(g, secs, () -> g.rmsnorm(o, rs, x, w, N, C, 1e-5f));
            row("rmsnorm", N + "x" + C, ms, 8.0 * N * C / ms / 1e6, "GB/s");
            ms = time(g, secs, () -> g.crossEntropy(l, z, z, tg, N, V, 1f / N));
            row("crossEntropy (+dlogits in place)", N + "x" + V, ms, 12.0 * N * V / ms / 1e6, "GB/s");
            long n = (long) N * V;
            ms = time(g, secs, () -> g.adamw(z, o, o, z, Math.min(n, (long) N * C), 1e-3f, 0.9f, 0.95f, 1e-8f, 0f, 1));
            row("adamw", (long) N * C + " params", ms, 20.0 * N * C / ms / 1e6, "GB/s");
        }
    }

    private static void row(String op, String shape, double ms, double rate, String unit) {
        System.out.printf("%-34s %-26s %10.3f %8.2f %s%n", op, shape, ms, rate, unit);
    }
}
