package bitnet.bench;

import bitnet.kernels.Buf;
import bitnet.kernels.Kernels;
import bitnet.kernels.cpu.CpuBuf;
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
 * The non-GEMM hot kernels at the demo model's training shapes (B 16, T 256, C 192, NH 4, NKV 2,
 * HS 48, V 8192, 3.2M parameters), for the Vector API backend and the scalar reference side by
 * side (impl), so "no kernel slower than its reference" can be read off. Setup runs both once on
 * the same inputs and throws if they disagree.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@State(Scope.Benchmark)
@Fork(
        value = 1,
        jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "-Xmx8g"})
public class KernelBench {
    @Param({
        "attention",
        "attentionBackward",
        "crossEntropy",
        "rmsnorm",
        "rmsnormBackward",
        "swiglu",
        "adamw",
        "int8LmHead"
    })
    public String op;

    @Param({"vector", "scalar"})
    public String impl;

    @Param({"2"})
    public int threads;

    static final int B = 16, T = 256, C = 192, NH = 4, NKV = 2, HS = 48, V = 8192, FF = 512, P = 3_200_000;
    static final int N = B * T;

    Kernels k;
    Random r = new Random(3);
    Buf out, att, q, kk, v, dq, dk, dv, dout, logits, dlogits, losses, x, w, rstd, dx, dw, gate, up, p, m, vv, g;
    int[] targets;
    /** The demo's tied embedding as a compress output keeps it: int8, one scale per row (V, C). */
    bitnet.kernels.cpu.Int8Weight head8;

    Buf headOut, headIn;

    Buf rand(int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = r.nextFloat() * 2 - 1;
        }
        return new CpuBuf(a);
    }

    @Setup(Level.Trial)
    public void setup() {
        q = rand(N * NH * HS);
        kk = rand(N * NKV * HS);
        v = rand(N * NKV * HS);
        out = rand(N * NH * HS);
        dq = rand(N * NH * HS);
        dk = rand(N * NKV * HS);
        dv = rand(N * NKV * HS);
        dout = rand(N * NH * HS);
        logits = rand(N * V);
        dlogits = rand(N * V);
        losses = rand(N);
        targets = new int[N];
        for (int i = 0; i < N; i++) {
            targets[i] = r.nextInt(V);
        }
        x = rand(N * C);
        w = rand(C);
        rstd = rand(N);
        dx = rand(N * C);
        dw = rand(C);
        gate = rand(N * FF);
        up = rand(N * FF);
        p = rand(P);
        m = rand(P);
        vv = rand(P);
        g = rand(P);
        float[] va = ((CpuBuf) vv).a;
        for (int i = 0; i < P; i++) {
            va[i] = Math.abs(va[i]);
        }
        byte[] q8 = new byte[V * C];
        r.nextBytes(q8);
        float[] s8 = new float[V];
        for (int i = 0; i < V; i++) {
            s8[i] = 0.001f + r.nextFloat() * 0.01f;
        }
        head8 = new bitnet.kernels.cpu.Int8Weight(java.lang.foreign.MemorySegment.ofArray(q8), s8, V, C);
        headOut = rand(V);
        headIn = rand(C);
        new ScalarKernels().rmsnorm(dx, rstd, x, w, N, C, 1e-5f);
        check();
        k = impl.equals("vector") ? new VectorKernels(threads) : new ScalarKernels();
        att = attentionState(k);
    }

    /**
     * What k's attention keeps for backward (its own format and size: the scalar reference the
     * probabilities, the vector backend 3 floats per query row), filled by k's forward.
     */
    Buf attentionState(Kernels k) {
        Buf a = new CpuBuf(new float[Math.toIntExact(k.attentionStateSize(B, NH, T))]);
        k.attention(rand(N * NH * HS), a, q, kk, v, B, T, T, NH, NKV, HS, 0);
        return a;
    }

    /** Runs the op once with each backend on copies of the state and compares the first output. */
    void check() {
        float[][] res = new float[2][];
        Buf[] saved = {out, dq, dk, dv, losses, dlogits, dx, dw, p, m, vv, g, headOut};
        float[][] copies = new float[saved.length][];
        for (int i = 0; i < saved.length; i++) {
            copies[i] = ((CpuBuf) saved[i]).a.clone();
        }
        Kernels[] ks = {new ScalarKernels(), new VectorKernels(threads)};
        for (int j = 0; j < 2; j++) {
            for (int i = 0; i < saved.length; i++) {
                System.arraycopy(copies[i], 0, ((CpuBuf) saved[i]).a, 0, copies[i].length);
            }
            k = ks[j];
            att = attentionState(k);
            res[j] = ((CpuBuf) run()).a.clone();
            ks[j].close();
        }
        for (int i = 0; i < saved.length; i++) {
            System.arraycopy(copies[i], 0, ((CpuBuf) saved[i]).a, 0, copies[i].length);
        }
        for (int i = 0; i < res[0].length; i++) {
            double d = Math.abs(res[0][i] - res[1][i]);
            if (d > 1e-4 * Math.max(1, Math.abs(res[0][i]))) {
                throw new IllegalStateException(
                        op + " disagrees with the scalar reference at " + i + ": " + res[0][i] + " vs " + res[1][i]);
            }
        }
    }

    Buf run() {
        switch (op) {
            case "attention" -> {
                k.attention(out, att, q, kk, v, B, T, T, NH, NKV, HS, 0);
                return out;
            }
            case "attentionBackward" -> {
                k.attentionBackward(dq, dk, dv, dout, att, q, kk, v, B, T, NH, NKV, HS);
                return dk;
            }
            case "crossEntropy" -> {
                k.crossEntropy(losses, dlogits, logits, targets, N, V, 1f / N);
                return dlogits;
            }
            case "rmsnorm" -> {
                k.rmsnorm(out, rstd, x, w, N, C, 1e-5f);
                return out;
            }
            case "rmsnormBackward" -> {
                k.rmsnormBackward(dx, dw, dout, x, w, rstd, N, C);
                return dx;
            }
            case "swiglu" -> {
                k.swiglu(dlogits, gate, up, (long) N * FF);
                return dlogits;
            }
            case "int8LmHead" -> {
                // batch-1 decoding's largest product: logits (1, V) = x (1, C) · Wᵀ
                k.matmul(headOut, headIn, head8, null, 1, C, V);
                return headOut;
            }
            case "adamw" -> {
                k.adamw(p, m, vv, g, P, 1e-4f, 0.9f, 0.95f, 1e-8f, 0.1f, 10);
                return p;
            }
            default -> throw new IllegalArgumentException(op);
        }
    }

    @Benchmark
    public Buf kernel() {
        return run();
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        k.close();
    }
}
