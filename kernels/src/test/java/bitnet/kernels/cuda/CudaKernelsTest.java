package bitnet.kernels.cuda;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import bitnet.io.BadInputException;
import bitnet.io.DType;
import bitnet.io.TensorData;
import bitnet.kernels.Backends;
import bitnet.kernels.Buf;
import bitnet.kernels.Kernels;
import bitnet.kernels.Weight;
import bitnet.kernels.cpu.ScalarKernels;
import java.lang.foreign.Arena;
import java.lang.foreign.SymbolLookup;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Parity of every CUDA op with the scalar reference on odd sizes. Without a GPU these tests are
 * reported as skipped (JUnit assumptions) and the reason is printed; the tryCreate/Backends tests
 * run everywhere. Tolerances are relative to magnitude and allow for reordered FP32 sums.
 */
class CudaKernelsTest {
    private static final ScalarKernels REF = new ScalarKernels();
    private static CudaKernels gpu;
    private static String reason;

    @BeforeAll
    static void start() {
        Object r = CudaKernels.tryCreate();
        if (r instanceof CudaKernels k) {
            gpu = k;
            System.out.println("[CudaKernelsTest] CUDA: " + k.describe());
        } else {
            reason = String.valueOf(r);
            System.out.println("[CudaKernelsTest] CUDA parity tests SKIPPED: " + reason);
        }
    }

    @AfterAll
    static void stop() {
        if (gpu != null) {
            gpu.close();
        }
    }

    private static void needGpu() {
        assumeTrue(gpu != null, () -> "no CUDA device: " + reason);
    }

    private static boolean driverPresent() {
        try (Arena a = Arena.ofConfined()) {
            SymbolLookup.libraryLookup("libcuda.so.1", a);
            return true;
        } catch (IllegalArgumentException e) {
            return false;
        }
    }

    // ---- runs everywhere -----------------------------------------------------------------------

    @Test
    void tryCreateReportsAReasonInsteadOfThrowing() {
        Object r = assertDoesNotThrow(CudaKernels::tryCreate);
        if (r instanceof CudaKernels k) {
            assertEquals("cuda", k.name());
            k.close();
            return;
        }
        String s = assertInstanceOf(String.class, r);
        assertFalse(s.isBlank());
        if (!driverPresent()) {
            assertTrue(s.contains("libcuda.so.1"), s);
        }
    }

    @Test
    void backendsFallBackToTheCpuWithoutAGpu() {
        assumeTrue(gpu == null, "a GPU is present: the fallback path is not taken");
        Backends.Choice c = Backends.select("auto", 1);
        assertFalse(c.kernels().name().equals("cuda"));
        assertTrue(c.reason().contains("no CUDA"), c.reason());
        assertThrows(BadInputException.class, () -> Backends.select("cuda", 1));
    }

    // ---- helpers -------------------------------------------------------------------------------

    interface Op {
        void run(Kernels k, Buf[] b);
    }

    private static float[] rnd(Random r, int n, float scale) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) (r.nextGaussian() * scale);
        }
        return a;
    }

    /** Uploads every input (null stays null), runs op, downloads every buffer. */
    private static float[][] exec(Kernels k, float[][] in, Op op) {
        Buf[] b = new Buf[in.length];
        for (int i = 0; i < in.length; i++) {
            b[i] = in[i] == null ? null : k.upload(in[i].clone());
        }
        op.run(k, b);
        float[][] out = new float[in.length][];
        for (int i = 0; i < in.length; i++) {
            if (b[i] != null) {
                out[i] = k.download(b[i]);
                b[i].close();
            }
        }
        return out;
    }

    /** Runs op on the reference and on the GPU and compares every buffer afterwards. */
    private static void check(String what, float tol, float[][] in, Op op) {
        float[][] e = exec(REF, in, op);
        float[][] a = exec(gpu, in, op);
        for (int i = 0; i < in.length; i++) {
            if (e[i] != null) {
                assertClose(e[i], a[i], tol, what + " buffer " + i);
            }
        }
    }

    private static void assertClose(float[] exp, float[] act, float tol, String what) {
        assertEquals(exp.length, act.length, what);
        for (int i = 0; i < exp.length; i++) {
            float d = Math.abs(exp[i] - act[i]);
            if (!(d <= tol * (1f + Math.abs(exp[i])))) {
                fail(what + " [" + i + "]: expected " + exp[i] + " got " + act[i]);
            }
        }
    }

    // ---- memory and weights --------------------------------------------------------------------

    @Test
    void memoryRoundTrips() {
        needGpu();
        Random r = new Random(1);
        for (int n : new int[] {1, 7, 4097}) {
            float[] a = rnd(r, n, 1f);
            try (Buf x = gpu.upload(a);
                    Buf y = gpu.alloc(n + 3)) {
                assertClose(a, gpu.download(x), 0f, "upload/download");
                assertClose(new float[n + 3], gpu.download(y), 0f, "alloc is zeroed");
                gpu.copy(y, 2, x, 0, n);
                float[] h = gpu.download(y);
                for (int i = 0; i < n; i++) {
                    assertEquals(a[i], h[i + 2]);
                }
                gpu.zero(x);
                assertClose(new float[n], gpu.download(x), 0f, "zero");
            }
        }
    }

    @Test
    void storedWeightsAreWidenedOnUpload() {
        needGpu();
        Random r = new Random(2);
        int rows = 13, cols = 7;
        float[] w = rnd(r, rows * cols, 1f);
        TensorData f32 = TensorData.ofFloats("w", w, rows, cols);
        float[] x = rnd(r, 5 * cols, 1f);
        for (DType dt : new DType[] {DType.F32, DType.BF16, DType.F16}) {
            TensorData t = f32.convert(dt, null);
            Weight gw = gpu.weight(t);
            Weight rw = REF.weight(t);
            for (int i = 0; i < rows; i++) {
                for (int c = 0; c < cols; c++) {
                    assertEquals(rw.get(i, c), gw.get(i, c), dt + " element");
                }
            }
            assertTrue(gpu.bufOf(gw) == null, "uploaded weights are not trainable buffers");
            float[] a = new float[5 * rows];
            try (Buf gx = gpu.upload(x);
                    Buf go = gpu.alloc(5L * rows)) {
                gpu.matmul(go, gx, gw, null, 5, cols, rows);
                gpu.download(go, a, a.length);
                // a CPU StoredWeight handed to the GPU is uploaded on first use
                gpu.matmul(go, gx, rw, null, 5, cols, rows);
                float[] a2 = gpu.download(go);
                float[] ee = new float[5 * rows];
                Buf ro = REF.alloc(5L * rows);
                REF.matmul(ro, REF.upload(x), rw, null, 5, cols, rows);
                REF.download(ro, ee, ee.length);
                assertClose(ee, a, 1e-5f, dt + " matmul");
                assertClose(ee, a2, 1e-5f, dt + " matmul (CPU weight)");
            }
            ((CudaWeight) gw).buf().close();
        }
    }

    // ---- linear ----------------------------------------------------------------------------------

    @Test
    void matmulForwardAndBackward() {
        needGpu();
        Random r = new Random(3);
        int[][] shapes = {{1, 1, 1}, {7, 13, 1}, {13, 7, 255}, {5, 255, 13}, {3, 4097, 7}};
        for (int[] s : shapes) {
            int N = s[0], C = s[1], OC = s[2];
            String sh = " N=" + N + " C=" + C + " OC=" + OC;
            float[] x = rnd(r, N * C, 1f), w = rnd(r, OC * C, 0.1f), bias = rnd(r, OC, 1f), d = rnd(r, N * OC, 1f);
            check(
                    "matmul" + sh,
                    2e-5f * (float) Math.sqrt(C),
                    new float[][] {new float[N * OC], x, w, bias},
                    (k, b) -> k.matmul(b[0], b[1], k.weight(b[2], OC, C), b[3], N, C, OC));
            check(
                    "matmul nobias" + sh,
                    2e-5f * (float) Math.sqrt(C),
                    new float[][] {new float[N * OC], x, w},
                    (k, b) -> k.matmul(b[0], b[1], k.weight(b[2], OC, C), null, N, C, OC));
            check(
                    "matmulBackward" + sh,
                    2e-5f * (float) Math.sqrt(Math.max(N, OC)),
                    new float[][] {rnd(r, N * C, 1f), rnd(r, OC * C, 1f), rnd(r, OC, 1f), d, x, w},
                    (k, b) -> k.matmulBackward(b[0], b[1], b[2], b[3], b[4], k.weight(b[5], OC, C), N, C, OC));
        }
    }

    // ---- embeddings ------------------------------------------------------------------------------

    @Test
    void embeddingForwardAndBackward() {
        needGpu();
        Random r = new Random(4);
        int V = 11, C = 13, B = 3, T = 7, maxT = 9, pos0 = 2;
        int[] ids = new int[B * T];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = r.nextInt(4); // repeated ids exercise the atomic scatter
        }
        float[] wte = rnd(r, V * C, 1f), wpe = rnd(r, maxT * C, 1f);
        check(
                "embedding",
                1e-6f,
                new float[][] {new float[B * T * C], wte, wpe},
                (k, b) -> k.embedding(b[0], ids, k.weight(b[1], V, C), k.weight(b[2], maxT, C), B, T, C, pos0));
        check(
                "embedding no wpe",
                1e-6f,
                new float[][] {new float[B * T * C], wte},
                (k, b) -> k.embedding(b[0], ids, k.weight(b[1], V, C), null, B, T, C, 0));
        float[] d = rnd(r, B * T * C, 1f);
        check(
                "embeddingBackward",
                1e-5f,
                new float[][] {rnd(r, V * C, 1f), rnd(r, maxT * C, 1f), d},
                (k, b) -> k.embeddingBackward(b[0], b[1], b[2], ids, B, T, C));
        check(
                "embeddingBackward no wpe",
                1e-5f,
                new float[][] {rnd(r, V * C, 1f), d},
                (k, b) -> k.embeddingBackward(b[0], null, b[1], ids, B, T, C));
    }

    // ---- norms -----------------------------------------------------------------------------------

    @Test
    void normsForwardAndBackward() {
        needGpu();
        Random r = new Random(5);
        for (int[] s : new int[][] {{1, 1}, {7, 7}, {13, 255}, {3, 4097}}) {
            int N = s[0], C = s[1];
            String sh = " N=" + N + " C=" + C;
            float[] x = rnd(r, N * C, 2f), w = rnd(r, C, 1f), bb = rnd(r, C, 1f), d = rnd(r, N * C, 1f);
            float tol = 2e-5f * (float) Math.sqrt(N * 10);
            check(
                    "layernorm" + sh,
                    1e-5f,
                    new float[][] {new float[N * C], new float[N], new float[N], x, w, bb},
                    (k, b) -> k.layernorm(b[0], b[1], b[2], b[3], b[4], b[5], N, C, 1e-5f));
            check(
                    "layernorm nobias" + sh,
                    1e-5f,
                    new float[][] {new float[N * C], new float[N], new float[N], x, w},
                    (k, b) -> k.layernorm(b[0], b[1], b[2], b[3], b[4], null, N, C, 1e-5f));
            float[] mean = new float[N], rstd = new float[N];
            Buf mb = REF.alloc(N), rb = REF.alloc(N);
            REF.layernorm(REF.alloc((long) N * C), mb, rb, REF.upload(x), REF.upload(w), REF.upload(bb), N, C, 1e-5f);
            REF.download(mb, mean, N);
            REF.download(rb, rstd, N);
            check(
                    "layernormBackward" + sh,
                    tol,
                    new float[][] {rnd(r, N * C, 1f), rnd(r, C, 1f), rnd(r, C, 1f), d, x, w, mean, rstd},
                    (k, b) -> k.layernormBackward(b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], N, C));
            check(
                    "layernormBackward nodb" + sh,
                    tol,
                    new float[][] {rnd(r, N * C, 1f), rnd(r, C, 1f), d, x, w, mean, rstd},
                    (k, b) -> k.layernormBackward(b[0], b[1], null, b[2], b[3], b[4], b[5], b[6], N, C));
            check(
                    "rmsnorm" + sh,
                    1e-5f,
                    new float[][] {new float[N * C], new float[N], x, w},
                    (k, b) -> k.rmsnorm(b[0], b[1], b[2], b[3], N, C, 1e-6f));
            Buf rs = REF.alloc(N);
            REF.rmsnorm(REF.alloc((long) N * C), rs, REF.upload(x), REF.upload(w), N, C, 1e-6f);
            float[] rr = REF.download(rs);
            check(
                    "rmsnormBackward" + sh,
                    tol,
                    new float[][] {rnd(r, N * C, 1f), rnd(r, C, 1f), d, x, w, rr},
                    (k, b) -> k.rmsnormBackward(b[0], b[1], b[2], b[3], b[4], b[5], N, C));
        }
    }

    // ---- attention -------------------------------------------------------------------------------

    private static float[][] ropeTables(int maxT, int HS) {
        int half = HS / 2;
        float[] cos = new float[maxT * half], sin = new float[maxT * half];
        for (int t = 0; t < maxT; t++) {
            for (int i = 0; i < half; i++) {
                double ang = t * Math.pow(10000, -2.0 * i / HS);
                cos[t * half + i] = (float) Math.cos(ang);
                sin[t * half + i] = (float) Math.sin(ang);
            }
        }
        return new float[][] {cos, sin};
    }

    @Test
    void ropeForwardAndBackward() {
        needGpu();
        Random r = new Random(6);
        int B = 2, T = 7, NH = 3, HS = 14, pos0 = 3;
        float[][] cs = ropeTables(T + pos0, HS);
        float[] x = rnd(r, B * T * NH * HS, 1f);
        check("rope", 1e-6f, new float[][] {x, cs[0], cs[1]}, (k, b) -> k.rope(b[0], b[1], b[2], B, T, NH, HS, pos0));
        check(
                "ropeBackward",
                1e-6f,
                new float[][] {x, cs[0], cs[1]},
                (k, b) -> k.ropeBackward(b[0], b[1], b[2], B, T, NH, HS, pos0));
    }

    @Test
    void attentionForwardAndBackward() {
        needGpu();
        Random r = new Random(7);
        // (B, T, NH, NKV, HS, window): MHA, GQA, head size above one warp, sliding window
        int[][] cases = {
            {1, 1, 1, 1, 1, 0}, {2, 7, 4, 2, 13, 0}, {1, 13, 6, 2, 48, 0}, {2, 9, 2, 1, 70, 4}, {1, 5, 2, 2, 256, 0}
        };
        for (int[] c : cases) {
            int B = c[0], T = c[1], NH = c[2], NKV = c[3], HS = c[4], win = c[5];
            String sh = " B=" + B + " T=" + T + " NH=" + NH + " NKV=" + NKV + " HS=" + HS + " window=" + win;
            float[] q = rnd(r, B * T * NH * HS, 1f), k = rnd(r, B * T * NKV * HS, 1f), v = rnd(r, B * T * NKV * HS, 1f);
            check(
                    "attention" + sh,
                    1e-5f,
                    new float[][] {new float[q.length], new float[B * NH * T * T], q, k, v},
                    (kk, b) -> kk.attention(b[0], b[1], b[2], b[3], b[4], B, T, T, NH, NKV, HS, win));
            check(
                    "attention no att" + sh,
                    1e-5f,
                    new float[][] {new float[q.length], q, k, v},
                    (kk, b) -> kk.attention(b[0], null, b[1], b[2], b[3], B, T, T, NH, NKV, HS, win));
            Buf att = REF.alloc((long) B * NH * T * T);
            REF.attention(
                    REF.alloc(q.length), att, REF.upload(q), REF.upload(k), REF.upload(v), B, T, T, NH, NKV, HS, win);
            float[] p = REF.download(att);
            check(
                    "attentionBackward" + sh,
                    5e-5f,
                    new float[][] {
                        rnd(r, q.length, 1f),
                        rnd(r, k.length, 1f),
                        rnd(r, v.length, 1f),
                        rnd(r, q.length, 1f),
                        p,
                        q,
                        k,
                        v
                    },
                    (kk, b) -> kk.attentionBackward(b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], B, T, NH, NKV, HS));
        }
        // a KV cache: 3 new queries against 11 keys
        int B = 2, T = 3, TK = 11, NH = 4, NKV = 2, HS = 16;
        float[] q = rnd(r, B * T * NH * HS, 1f), k = rnd(r, B * TK * NKV * HS, 1f), v = rnd(r, B * TK * NKV * HS, 1f);
        check(
                "attention with cache",
                1e-5f,
                new float[][] {new float[q.length], new float[B * NH * T * TK], q, k, v},
                (kk, b) -> kk.attention(b[0], b[1], b[2], b[3], b[4], B, T, TK, NH, NKV, HS, 0));
    }

    // ---- elementwise, loss, optimizer --------------------------------------------------------------

    @Test
    void elementwiseOps() {
        needGpu();
        Random r = new Random(8);
        for (int n : new int[] {1, 7, 4097}) {
            float[] a = rnd(r, n, 2f), b2 = rnd(r, n, 2f), d = rnd(r, n, 1f);
            check("add n=" + n, 0f, new float[][] {new float[n], a, b2}, (k, b) -> k.add(b[0], b[1], b[2], n));
            check("add aliased n=" + n, 0f, new float[][] {a, b2}, (k, b) -> k.add(b[0], b[0], b[1], n));
            check("gelu n=" + n, 1e-5f, new float[][] {new float[n], a}, (k, b) -> k.gelu(b[0], b[1], n));
            check(
                    "geluBackward n=" + n,
                    1e-5f,
                    new float[][] {rnd(r, n, 1f), d, a},
                    (k, b) -> k.geluBackward(b[0], b[1], b[2], n));
            check("swiglu n=" + n, 1e-5f, new float[][] {new float[n], a, b2}, (k, b) -> k.swiglu(b[0], b[1], b[2], n));
            check(
                    "swigluBackward n=" + n,
                    1e-5f,
                    new float[][] {rnd(r, n, 1f), rnd(r, n, 1f), d, a, b2},
                    (k, b) -> k.swigluBackward(b[0], b[1], b[2], b[3], b[4], n));
            check("scale n=" + n, 1e-7f, new float[][] {a}, (k, b) -> k.scale(b[0], n, -0.37f));
            check("axpy n=" + n, 1e-6f, new float[][] {a, b2}, (k, b) -> k.axpy(b[0], b[1], n, 0.61f));
            check(
                    "grokfastEma n=" + n,
                    1e-6f,
                    new float[][] {a, b2},
                    (k, b) -> k.grokfastEma(b[0], b[1], n, 0.98f, 2f));
            float[] m = rnd(r, n, 0.1f), v = new float[n];
            for (int i = 0; i < n; i++) {
                v[i] = Math.abs(b2[i]) * 0.01f;
            }
            for (int step : new int[] {1, 7}) {
                check(
                        "adamw n=" + n + " step=" + step,
                        1e-5f,
                        new float[][] {a, m, v, d},
                        (k, b) -> k.adamw(b[0], b[1], b[2], b[3], n, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.01f, step));
            }
            try (Buf g = gpu.upload(a)) {
                double e = REF.sumSquares(REF.upload(a), n);
                assertEquals(e, gpu.sumSquares(g, n), 1e-9 * e + 1e-12, "sumSquares n=" + n);
            }
        }
    }

    @Test
    void crossEntropyWithIgnoredRowsAndAliasing() {
        needGpu();
        Random r = new Random(9);
        for (int[] s : new int[][] {{1, 1}, {7, 13}, {5, 4097}}) {
            int N = s[0], V = s[1];
            int[] tg = new int[N];
            for (int i = 0; i < N; i++) {
                tg[i] = i == 1 ? -100 : r.nextInt(V);
            }
            float[] z = rnd(r, N * V, 3f);
            String sh = " N=" + N + " V=" + V;
            check(
                    "crossEntropy" + sh,
                    1e-5f,
                    new float[][] {new float[N], new float[N * V], z},
                    (k, b) -> k.crossEntropy(b[0], b[1], b[2], tg, N, V, 0.25f));
            check(
                    "crossEntropy aliased" + sh,
                    1e-5f,
                    new float[][] {new float[N], z},
                    (k, b) -> k.crossEntropy(b[0], b[1], b[1], tg, N, V, 0.25f));
            check(
                    "crossEntropy loss only" + sh,
                    1e-5f,
                    new float[][] {new float[N], z},
                    (k, b) -> k.crossEntropy(b[0], null, b[1], tg, N, V, 1f));
        }
    }
}
