package bitnet.bench;

import bitnet.kernels.Buf;
import bitnet.kernels.Weight;
import bitnet.kernels.cpu.CpuBuf;
import bitnet.kernels.cpu.F32Weight;
import bitnet.kernels.cpu.VectorKernels;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * Our GEMM against numpy/OpenBLAS, interleaved: for each (shape, op, threads) it times OpenBLAS
 * (in a resident python3 process per thread count, OPENBLAS_NUM_THREADS set before numpy loads)
 * and then ours, alternating for a few rounds, so both see the same load on a shared machine.
 * Each timing is 3 warm-up calls and 5 timed calls, the protocol of bench/compare's numpy pass,
 * after one untimed pass over every case ({@link #warmUp}).
 * Prints one line per case: "shape op threads ours_best_ms ours_med_ms blas_best_ms blas_med_ms".
 * Not JMH (GemmBench is the formal benchmark, with its reference check); this is for ratios.
 *
 * <p>Usage: GemmVsBlas "2048x2048x2048 4096x192x8192" "NT NN TN" "1 2" rounds
 */
public final class GemmVsBlas {
    private GemmVsBlas() {}

    static final String SERVER = String.join(
            "\n",
            "import sys, time, numpy as np",
            "rng = np.random.default_rng(7)",
            "cache = {}",
            "for line in sys.stdin:",
            "    s, op = line.split()",
            "    if s not in cache:",
            "        N, C, OC = map(int, s.split('x'))",
            "        cache.clear()",
            "        cache[s] = (rng.uniform(-1, 1, (N, C)).astype(np.float32), rng.uniform(-1, 1, (OC, C)).astype(np.float32),",
            "                    rng.uniform(-1, 1, (N, OC)).astype(np.float32))",
            "    x, w, d = cache[s]",
            "    f = {'NT': lambda: x @ w.T, 'NN': lambda: d @ w, 'TN': lambda: d.T @ x}[op]",
            "    for _ in range(3): f()",
            "    ts = []",
            "    for _ in range(5):",
            "        t0 = time.perf_counter(); f(); ts.append(time.perf_counter() - t0)",
            "    ts.sort()",
            "    print(f'{ts[0]*1e3:.4f} {ts[2]*1e3:.4f}', flush=True)",
            "");

    public static void main(String[] args) throws Exception {
        String[] shapes = args[0].trim().split("\\s+"),
                ops = args[1].trim().split("\\s+"),
                thr = args[2].trim().split("\\s+");
        int rounds = args.length > 3 ? Integer.parseInt(args[3]) : 2;
        List<Process> procs = new ArrayList<>();
        warmUp(shapes, ops, thr);
        try {
            for (String shape : shapes) {
                Case g = new Case(shape);
                for (String op : ops) {
                    for (String t : thr) {
                        int T = Integer.parseInt(t);
                        Process py = server(procs, T);
                        PrintWriter to = new PrintWriter(py.getOutputStream(), true);
                        BufferedReader from = new BufferedReader(new InputStreamReader(py.getInputStream()));
                        double ob = Double.MAX_VALUE,
                                om = Double.MAX_VALUE,
                                bb = Double.MAX_VALUE,
                                bm = Double.MAX_VALUE;
                        try (VectorKernels vk = new VectorKernels(T)) {
                            for (int round = 0; round < rounds; round++) {
                                to.println(shape + " " + op);
                                String[] res = from.readLine().trim().split(" ");
                                bb = Math.min(bb, Double.parseDouble(res[0]));
                                bm = Math.min(bm, Double.parseDouble(res[1]));
                                // OpenBLAS's idle worker threads busy-wait for 2^28 cycles (~0.1 s)
                                // after each call; timed right away, a 2-thread run of ours would
                                // share its second core with them (small shapes then showed no
                                // scaling at all: 7.9 ms on 1 thread, 7.7 ms on 2)
                                Thread.sleep(300);
                                double[] ts = new double[5];
                                for (int i = 0; i < 8; i++) {
                                    long t0 = System.nanoTime();
                                    g.run(vk, op);
                                    if (i >= 3) {
                                        ts[i - 3] = (System.nanoTime() - t0) / 1e6;
                                    }
                                }
                                java.util.Arrays.sort(ts);
                                ob = Math.min(ob, ts[0]);
                                om = Math.min(om, ts[2]);
                            }
                        }
                        System.out.printf("%s %s %d %.4f %.4f %.4f %.4f%n", shape, op, T, ob, om, bb, bm);
                    }
                }
            }
        } finally {
            for (Process p : procs) {
                if (p != null) {
                    p.destroy();
                }
            }
        }
    }

    /**
     * Every case a few times, untimed, before any is timed, then a pause for the JIT's queue: the
     * three ops share the packing and tile methods, and the first call of a later case (TN after NT)
     * deoptimized them, so its timings, and the next case's, ran partly in the interpreter while C2
     * recompiled on one of the two cores (NT 4096x192x512, 2 threads, Zen 5: 2.7 ms alone, 4.3 ms
     * right after the other cases). OpenBLAS has no such warm-up to do; JMH's warm-up iterations do
     * the same for GemmBench.
     */
    static void warmUp(String[] shapes, String[] ops, String[] thr) throws InterruptedException {
        for (String t : thr) {
            try (VectorKernels vk = new VectorKernels(Integer.parseInt(t))) {
                for (String shape : shapes) {
                    Case g = new Case(shape);
                    for (int i = 0; i < 3; i++) {
                        for (String op : ops) {
                            g.run(vk, op);
                        }
                    }
                }
            }
        }
        Thread.sleep(1000);
    }

    /** One shape's operands (inp (N, C), W (OC, C), dout (N, OC)) and outputs. */
    static final class Case {
        final int N, C, OC;
        final Buf inp, dout, out, dinp, dw;
        final Weight w;

        Case(String shape) {
            String[] s = shape.split("x");
            N = Integer.parseInt(s[0]);
            C = Integer.parseInt(s[1]);
            OC = Integer.parseInt(s[2]);
            Random r = new Random(7);
            inp = new CpuBuf(rand(r, N * C));
            dout = new CpuBuf(rand(r, N * OC));
            w = new F32Weight(new CpuBuf(rand(r, OC * C)), OC, C);
            out = new CpuBuf(new float[N * OC]);
            dinp = new CpuBuf(new float[N * C]);
            dw = new CpuBuf(new float[OC * C]);
        }

        /** NT: out = inp·Wᵀ (forward); NN: dinp += dout·W; TN: dW += doutᵀ·inp. */
        void run(VectorKernels vk, String op) {
            switch (op) {
                case "NT" -> vk.matmul(out, inp, w, null, N, C, OC);
                case "NN" -> vk.matmulBackward(dinp, null, null, dout, inp, w, N, C, OC);
                default -> vk.matmulBackward(null, dw, null, dout, inp, w, N, C, OC);
            }
        }
    }

    private static Process server(List<Process> procs, int T) throws Exception {
        while (procs.size() <= T) {
            procs.add(null);
        }
        if (procs.get(T) == null) {
            ProcessBuilder pb = new ProcessBuilder("python3", "-c", SERVER);
            pb.environment().remove("OPENBLAS_CORETYPE");
            pb.environment().remove("OPENBLAS_L2_SIZE");
            pb.environment().put("OPENBLAS_NUM_THREADS", Integer.toString(T));
            pb.environment().put("OMP_NUM_THREADS", Integer.toString(T));
            pb.redirectError(ProcessBuilder.Redirect.INHERIT);
            procs.set(T, pb.start());
        }
        return procs.get(T);
    }

    static float[] rand(Random r, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = r.nextFloat() * 2 - 1;
        }
        return a;
    }
}
