package bitnet.bench;

import bitnet.kernels.Buf;
import bitnet.kernels.Weight;
import bitnet.kernels.cpu.CpuBuf;
import bitnet.kernels.cpu.F32Weight;
import bitnet.kernels.cpu.ScalarKernels;
import bitnet.kernels.cpu.VectorKernels;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * FP32 GEMM through {@link VectorKernels}: the three products of a linear layer, out = inp·Wᵀ
 * (op NT, the forward), dinp += dout·W (NN) and dW += doutᵀ·inp (TN), on 2048³ and the demo
 * model's shapes. shape is "NxCxOC": inp (N, C), W (OC, C). GFLOP/s = 2·N·C·OC / time (bench/compare
 * prints it). Setup checks a slice of the result against the scalar reference before timing.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@State(Scope.Benchmark)
@Fork(
        value = 1,
        jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "-Xmx8g"})
public class GemmBench {
    @Param({"2048x2048x2048", "4096x192x8192", "4096x192x512", "4096x512x192"})
    public String shape;

    @Param({"NT", "NN", "TN"})
    public String op;

    @Param({"2"})
    public int threads;

    int N, C, OC;
    VectorKernels vk;
    Buf inp, out, dout, dinp, dw;
    Weight w;

    @Setup(Level.Trial)
    public void setup() {
        String[] s = shape.split("x");
        N = Integer.parseInt(s[0]);
        C = Integer.parseInt(s[1]);
        OC = Integer.parseInt(s[2]);
        vk = new VectorKernels(threads);
        Random r = new Random(7);
        float[] x = rand(r, N * C), wt = rand(r, OC * C), d = rand(r, N * OC);
        inp = new CpuBuf(x);
        dout = new CpuBuf(d);
        w = new F32Weight(new CpuBuf(wt), OC, C);
        out = vk.alloc((long) N * OC);
        dinp = vk.alloc((long) N * C);
        dw = vk.alloc((long) OC * C);
        run();
        check(x, wt, d);
    }

    static float[] rand(Random r, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = r.nextFloat() * 2 - 1;
        }
        return a;
    }

    /** Compares 8 rows (NT, NN) or 8 weight rows (TN) with ScalarKernels: the full product would take minutes. */
    void check(float[] x, float[] wt, float[] d) {
        ScalarKernels ref = new ScalarKernels();
        int R = 8;
        float[] got, exp;
        int K;
        switch (op) {
            case "NT" -> {
                Buf o = ref.alloc((long) R * OC);
                ref.matmul(o, ref.upload(x, R * C), w, null, R, C, OC);
                exp = ref.download(o);
                got = java.util.Arrays.copyOf(((CpuBuf) out).a, R * OC);
                K = C;
            }
            case "NN" -> {
                // dinp was accumulated once from zero by run()
                Buf dx = ref.alloc((long) R * C);
                ref.matmulBackward(dx, null, null, ref.upload(d, R * OC), null, w, R, C, OC);
                exp = ref.download(dx);
                got = java.util.Arrays.copyOf(((CpuBuf) dinp).a, R * C);
                K = OC;
            }
            default -> {
                float[] dsub = new float[N * R];
                for (int n = 0; n < N; n++) {
                    System.arraycopy(d, n * OC, dsub, n * R, R);
                }
                Buf g = ref.alloc((long) R * C);
                ref.matmulBackward(null, g, null, new CpuBuf(dsub), new CpuBuf(x), w, N, C, R);
                exp = ref.download(g);
                got = java.util.Arrays.copyOf(((CpuBuf) dw).a, R * C);
                K = N;
            }
        }
        double tol = 1e-5 + 2e-7 * K;
        for (int i = 0; i < exp.length; i++) {
            if (Math.abs(exp[i] - got[i]) > tol * Math.max(1, Math.abs(exp[i]))) {
                throw new IllegalStateException(op + " " + shape + " disagrees with the scalar reference at " + i + ": "
                        + exp[i] + " vs " + got[i]);
            }
        }
    }

    void run() {
        switch (op) {
            case "NT" -> vk.matmul(out, inp, w, null, N, C, OC);
            case "NN" -> vk.matmulBackward(dinp, null, null, dout, inp, w, N, C, OC);
            default -> vk.matmulBackward(null, dw, null, dout, inp, w, N, C, OC);
        }
    }

    @Benchmark
    public Buf gemm() {
        run();
        return op.equals("NT") ? out : op.equals("NN") ? dinp : dw;
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        vk.close();
    }
}
