package bitnet.kernels.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import bitnet.io.DType;
import bitnet.kernels.Buf;
import bitnet.kernels.Weight;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

/**
 * Parity of every op {@link VectorKernels} overrides against {@link ScalarKernels} (the oracle),
 * on odd sizes, with tolerances scaled to the reduction length; exact equality where the vector
 * kernel performs the same float operations in the same order.
 */
class VectorKernelsTest {
    static final ScalarKernels REF = new ScalarKernels();
    static final VectorKernels VK = new VectorKernels(2);
    static final VectorKernels VK1 = new VectorKernels(1);
    final Random rnd = new Random(42);

    @AfterAll
    static void close() {
        VK.close();
        VK1.close();
    }

    float[] rand(int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = rnd.nextFloat() * 2 - 1;
        }
        return a;
    }

    static Buf buf(float[] a) {
        return new CpuBuf(a.clone());
    }

    static float[] a(Buf b) {
        return ((CpuBuf) b).a;
    }

    static void close(String what, float[] exp, float[] got, double tol) {
        assertEquals(exp.length, got.length, what);
        for (int i = 0; i < exp.length; i++) {
            double d = Math.abs(exp[i] - got[i]);
            if (!(d <= tol * Math.max(1, Math.abs(exp[i])))) {
                fail(what + " at " + i + ": expected " + exp[i] + " got " + got[i] + " (tol " + tol + ")");
            }
        }
    }

    /** Float rounding grows with the length of a sum; inputs here are O(1). */
    static double tolFor(int k) {
        return 1e-6 + 2e-7 * k;
    }

    static StoredWeight stored(float[] w, int rows, int cols, DType dt) {
        MemorySegment seg = MemorySegment.ofArray(new byte[rows * cols * dt.size()]);
        var f32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
        var i16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < w.length; i++) {
            switch (dt) {
                case F32 -> seg.set(f32, i * 4L, w[i]);
                case BF16 -> seg.set(i16, i * 2L, DType.floatToBf16(w[i]));
                case F16 -> seg.set(i16, i * 2L, Float.floatToFloat16(w[i]));
                default -> throw new AssertionError();
            }
        }
        return new StoredWeight(seg, dt, rows, cols);
    }

    // ---- matmul ------------------------------------------------------------------------------

    static final int[][] SHAPES = { // N, C, OC
        {1, 7, 13},
        {3, 255, 33},
        {7, 13, 255},
        {13, 255, 7},
        {255, 33, 97},
        {37, 4097, 19},
        {97, 19, 4097},
        {4097, 13, 7},
        {64, 256, 96}
    };

    void checkMatmul(Weight wv, Weight wr, int N, int C, int OC, boolean bias) {
        float[] x = rand(N * C), b = bias ? rand(OC) : null;
        Buf oR = REF.alloc((long) N * OC), oV = buf(rand(N * OC));
        REF.matmul(oR, buf(x), wr, b == null ? null : buf(b), N, C, OC);
        VK.matmul(oV, buf(x), wv, b == null ? null : buf(b), N, C, OC);
        close("matmul " + N + "x" + C + "x" + OC, a(oR), a(oV), tolFor(C));
    }

    @Test
    void matmulF32() {
        for (int[] s : SHAPES) {
            float[] w = rand(s[2] * s[1]);
            Weight wt = new F32Weight(new CpuBuf(w), s[2], s[1]);
            checkMatmul(wt, wt, s[0], s[1], s[2], false);
            checkMatmul(wt, wt, s[0], s[1], s[2], true);
        }
    }

    @Test
    void matmulStored() {
        for (DType dt : new DType[] {DType.BF16, DType.F16, DType.F32}) {
            for (int[] s : new int[][] {{1, 13, 7}, {2, 255, 13}, {13, 255, 97}, {67, 129, 33}}) {
                StoredWeight w = stored(rand(s[2] * s[1]), s[2], s[1], dt);
                checkMatmul(w, w, s[0], s[1], s[2], true);
                int N = s[0], C = s[1], OC = s[2];
                if (N < 4) {
                    // a few rows: BF16 is widened inside the dot product, with the bits of a product
                    // over the widened FP32 matrix (which is what the other dtypes go through)
                    float[] wide = new float[OC * C];
                    for (int r = 0; r < OC; r++) {
                        for (int c = 0; c < C; c++) {
                            wide[r * C + c] = w.get(r, c);
                        }
                    }
                    float[] x = rand(N * C), b = rand(OC);
                    Buf o1 = buf(new float[N * OC]), o2 = buf(new float[N * OC]);
                    VK.matmul(o1, buf(x), w, buf(b), N, C, OC);
                    VK.matmul(o2, buf(x), new F32Weight(new CpuBuf(wide), OC, C), buf(b), N, C, OC);
                    assertArrayEquals(a(o2), a(o1), "few-row stored " + dt);
                }
                float[] d = rand(N * OC), dx0 = rand(N * C);
                Buf dxR = buf(dx0), dxV = buf(dx0);
                REF.matmulBackward(dxR, null, null, buf(d), buf(rand(N * C)), w, N, C, OC);
                VK.matmulBackward(dxV, null, null, buf(d), buf(rand(N * C)), w, N, C, OC);
                close("dinp stored " + dt, a(dxR), a(dxV), tolFor(OC));
            }
        }
    }

    @Test
    void matmulBackward() {
        for (int[] s : SHAPES) {
            int N = s[0], C = s[1], OC = s[2];
            Weight w = new F32Weight(new CpuBuf(rand(OC * C)), OC, C);
            float[] d = rand(N * OC), x = rand(N * C), dx0 = rand(N * C), dw0 = rand(OC * C), db0 = rand(OC);
            Buf dxR = buf(dx0), dwR = buf(dw0), dbR = buf(db0), dxV = buf(dx0), dwV = buf(dw0), dbV = buf(db0);
            REF.matmulBackward(dxR, dwR, dbR, buf(d), buf(x), w, N, C, OC);
            VK.matmulBackward(dxV, dwV, dbV, buf(d), buf(x), w, N, C, OC);
            String at = " " + N + "x" + C + "x" + OC;
            close("dinp" + at, a(dxR), a(dxV), tolFor(OC));
            close("dweight" + at, a(dwR), a(dwV), tolFor(N));
            close("dbias" + at, a(dbR), a(dbV), tolFor(N));
        }
    }

    @Test
    void matmulThreadsAgree() {
        int N = 301, C = 517, OC = 1029;
        Weight w = new F32Weight(new CpuBuf(rand(OC * C)), OC, C);
        float[] x = rand(N * C), b = rand(OC);
        Buf o1 = VK1.alloc((long) N * OC), o2 = VK.alloc((long) N * OC);
        VK1.matmul(o1, buf(x), w, buf(b), N, C, OC);
        VK.matmul(o2, buf(x), w, buf(b), N, C, OC);
        // every element is summed by the same kernel in the same K order whatever the split
        assertArrayEquals(a(o1), a(o2));
        assertEquals(2, VK.threads());
    }

    @Test
    void ternaryHookIsCalled() {
        int[] calls = new int[2];
        class Fake implements Weight, CpuMatmul {
            public int rows() {
                return 3;
            }

            public int cols() {
                return 2;
            }

            public float get(int r, int c) {
                return 0;
            }

            public void matmulInto(float[] out, float[] inp, float[] bias, int N, int C, int OC) {
                calls[0]++;
            }

            public void matmulBackwardInput(float[] dinp, float[] dout, int N, int C, int OC) {
                calls[1]++;
            }
        }
        Fake f = new Fake();
        VK.matmul(VK.alloc(15), VK.alloc(10), f, null, 5, 2, 3);
        VK.matmulBackward(VK.alloc(10), null, null, VK.alloc(15), VK.alloc(10), f, 5, 2, 3);
        assertArrayEquals(new int[] {1, 1}, calls);
    }

    // ---- attention ---------------------------------------------------------------------------

    @Test
    void attention() {
        int[][] cases = { // B, T, TK, NH, NKV, HS, window
            {1, 1, 1, 1, 1, 1, 0}, {2, 7, 7, 4, 2, 13, 0}, {1, 13, 13, 3, 3, 64, 5}, {2, 3, 13, 4, 1, 16, 0},
            {1, 5, 17, 2, 2, 7, 6}, {2, 33, 33, 6, 2, 32, 0}, {1, 101, 101, 2, 1, 48, 0}, {1, 70, 90, 2, 2, 20, 37}
        };
        for (int[] cs : cases) {
            int B = cs[0], T = cs[1], TK = cs[2], NH = cs[3], NKV = cs[4], HS = cs[5], win = cs[6];
            float[] q = rand(B * T * NH * HS), k = rand(B * TK * NKV * HS), v = rand(B * TK * NKV * HS);
            Buf oR = REF.alloc((long) B * T * NH * HS), oV = buf(rand(B * T * NH * HS));
            // the reference keeps the (T, TK) probabilities; the vector backend 3 floats per query row
            assertEquals((long) B * NH * T * T, REF.attentionStateSize(B, NH, T));
            assertEquals((long) B * NH * T * 3, VK.attentionStateSize(B, NH, T));
            Buf pR = REF.alloc((long) B * NH * T * TK), sV = buf(rand((int) VK.attentionStateSize(B, NH, T)));
            REF.attention(oR, pR, buf(q), buf(k), buf(v), B, T, TK, NH, NKV, HS, win);
            VK.attention(oV, T == TK ? sV : null, buf(q), buf(k), buf(v), B, T, TK, NH, NKV, HS, win);
            String at = java.util.Arrays.toString(cs);
            close("out " + at, a(oR), a(oV), tolFor(TK) + 1e-5);
            Buf oN = buf(rand(B * T * NH * HS));
            VK.attention(oN, null, buf(q), buf(k), buf(v), B, T, TK, NH, NKV, HS, win);
            assertArrayEquals(a(oV), a(oN), "no att cache " + at);
            if (T == TK) {
                // backward recomputes the probabilities from the saved state (sliding windows included)
                float[] d = rand(B * T * NH * HS), dq0 = rand(q.length), dk0 = rand(k.length), dv0 = rand(v.length);
                Buf dqR = buf(dq0), dkR = buf(dk0), dvR = buf(dv0), dqV = buf(dq0), dkV = buf(dk0), dvV = buf(dv0);
                REF.attentionBackward(dqR, dkR, dvR, buf(d), pR, buf(q), buf(k), buf(v), B, T, NH, NKV, HS);
                VK.attentionBackward(dqV, dkV, dvV, buf(d), sV, buf(q), buf(k), buf(v), B, T, NH, NKV, HS);
                double tol = 1e-5 + tolFor(HS) * T;
                close("dq " + at, a(dqR), a(dqV), tol);
                close("dk " + at, a(dkR), a(dkV), tol);
                close("dv " + at, a(dvR), a(dvV), tol);
            }
        }
    }

    /** Backward must not depend on anything but the saved state: run twice, same bits; a wrong state fails. */
    @Test
    void attentionBackwardUsesOnlySavedState() {
        int B = 2, T = 37, NH = 4, NKV = 2, HS = 24;
        float[] q = rand(B * T * NH * HS),
                k = rand(B * T * NKV * HS),
                v = rand(B * T * NKV * HS),
                d = rand(B * T * NH * HS);
        Buf st = buf(new float[(int) VK.attentionStateSize(B, NH, T)]);
        VK.attention(buf(new float[q.length]), st, buf(q), buf(k), buf(v), B, T, T, NH, NKV, HS, 0);
        float[] dq1 = new float[q.length], dq2 = new float[q.length];
        Buf a1 = buf(dq1), a2 = buf(dq2);
        VK.attentionBackward(
                a1,
                buf(new float[k.length]),
                buf(new float[v.length]),
                buf(d),
                st,
                buf(q),
                buf(k),
                buf(v),
                B,
                T,
                NH,
                NKV,
                HS);
        VK.attentionBackward(
                a2,
                buf(new float[k.length]),
                buf(new float[v.length]),
                buf(d),
                st,
                buf(q),
                buf(k),
                buf(v),
                B,
                T,
                NH,
                NKV,
                HS);
        assertArrayEquals(a(a1), a(a2));
        float[] bad = a(st).clone();
        for (int i = 1; i < bad.length; i += 3) {
            bad[i] *= 2f; // 1/sum doubled: probabilities no longer sum to one
        }
        Buf a3 = buf(new float[q.length]);
        VK.attentionBackward(
                a3,
                buf(new float[k.length]),
                buf(new float[v.length]),
                buf(d),
                buf(bad),
                buf(q),
                buf(k),
                buf(v),
                B,
                T,
                NH,
                NKV,
                HS);
        org.junit.jupiter.api.Assertions.assertFalse(
                java.util.Arrays.equals(a(a1), a(a3)), "backward ignored the saved state");
    }

    // ---- cross-entropy -----------------------------------------------------------------------

    @Test
    void crossEntropy() {
        for (int V : new int[] {1, 7, 13, 255, 4097, 50257}) {
            int N = 7;
            float[] z = rand(N * V);
            for (int i = 0; i < z.length; i++) {
                z[i] *= 8; // a peaky softmax
            }
            int[] tg = new int[N];
            for (int n = 0; n < N; n++) {
                tg[n] = n == 3 ? -1 : rnd.nextInt(V);
            }
            Buf lR = REF.alloc(N), dR = REF.alloc((long) N * V), lV = buf(rand(N)), dV = buf(rand(N * V));
            REF.crossEntropy(lR, dR, buf(z), tg, N, V, 0.25f);
            VK.crossEntropy(lV, dV, buf(z), tg, N, V, 0.25f);
            close("losses V=" + V, a(lR), a(lV), 1e-6);
            close("dlogits V=" + V, a(dR), a(dV), 2e-6);
            Buf alias = buf(z), lA = VK.alloc(N);
            VK.crossEntropy(lA, alias, alias, tg, N, V, 0.25f);
            close("aliased dlogits V=" + V, a(dR), a(alias), 2e-6);
            assertArrayEquals(a(lV), a(lA));
            Buf lN = VK.alloc(N);
            VK.crossEntropy(lN, null, buf(z), tg, N, V, 1f);
            assertArrayEquals(a(lV), a(lN));
        }
    }

    // ---- norms -------------------------------------------------------------------------------

    @Test
    void norms() {
        for (int C : new int[] {1, 7, 13, 255, 4097}) {
            for (int N : new int[] {1, 13, 257}) {
                String at = " N=" + N + " C=" + C;
                float[] x = rand(N * C), w = rand(C), b = rand(C), d = rand(N * C);
                Buf oR = REF.alloc((long) N * C), rR = REF.alloc(N), oV = buf(rand(N * C)), rV = buf(rand(N));
                REF.rmsnorm(oR, rR, buf(x), buf(w), N, C, 1e-5f);
                VK.rmsnorm(oV, rV, buf(x), buf(w), N, C, 1e-5f);
                close("rmsnorm" + at, a(oR), a(oV), tolFor(C));
                close("rms rstd" + at, a(rR), a(rV), tolFor(C));
                float[] dx0 = rand(N * C), dw0 = rand(C);
                Buf dxR = buf(dx0), dwR = buf(dw0), dxV = buf(dx0), dwV = buf(dw0);
                REF.rmsnormBackward(dxR, dwR, buf(d), buf(x), buf(w), rR, N, C);
                VK.rmsnormBackward(dxV, dwV, buf(d), buf(x), buf(w), rR, N, C);
                close("rms dinp" + at, a(dxR), a(dxV), tolFor(C));
                close("rms dw" + at, a(dwR), a(dwV), tolFor(N));

                Buf mR = REF.alloc(N), sR = REF.alloc(N), mV = buf(rand(N)), sV = buf(rand(N));
                REF.layernorm(oR, mR, sR, buf(x), buf(w), buf(b), N, C, 1e-5f);
                VK.layernorm(oV, mV, sV, buf(x), buf(w), buf(b), N, C, 1e-5f);
                close("layernorm" + at, a(oR), a(oV), tolFor(C) * 10);
                close("ln mean" + at, a(mR), a(mV), tolFor(C));
                close("ln rstd" + at, a(sR), a(sV), tolFor(C) * 10);
                float[] db0 = rand(C);
                Buf dbR = buf(db0), dbV = buf(db0);
                dxR = buf(dx0);
                dwR = buf(dw0);
                dxV = buf(dx0);
                dwV = buf(dw0);
                REF.layernormBackward(dxR, dwR, dbR, buf(d), buf(x), buf(w), mR, sR, N, C);
                VK.layernormBackward(dxV, dwV, dbV, buf(d), buf(x), buf(w), mR, sR, N, C);
                close("ln dinp" + at, a(dxR), a(dxV), tolFor(C) * 10);
                close("ln dw" + at, a(dwR), a(dwV), tolFor(N));
                close("ln db" + at, a(dbR), a(dbV), tolFor(N));
            }
        }
    }

    // ---- elementwise, optimizer ----------------------------------------------------------------

    static final int[] LENS = {1, 7, 13, 255, 4097, 100_003};

    @Test
    void elementwise() {
        for (int n : LENS) {
            float[] x = rand(n), y = rand(n), d = rand(n), g0 = rand(n), u0 = rand(n);
            for (int i = 0; i < n; i++) {
                x[i] *= 6;
            }
            Buf oR = REF.alloc(n), oV = VK.alloc(n);
            REF.add(oR, buf(x), buf(y), n);
            VK.add(oV, buf(x), buf(y), n);
            assertArrayEquals(a(oR), a(oV), "add");
            REF.gelu(oR, buf(x), n);
            VK.gelu(oV, buf(x), n);
            close("gelu n=" + n, a(oR), a(oV), 2e-6);
            Buf gR = buf(g0), gV = buf(g0);
            REF.geluBackward(gR, buf(d), buf(x), n);
            VK.geluBackward(gV, buf(d), buf(x), n);
            close("geluBackward n=" + n, a(gR), a(gV), 2e-6);
            REF.swiglu(oR, buf(x), buf(y), n);
            VK.swiglu(oV, buf(x), buf(y), n);
            close("swiglu n=" + n, a(oR), a(oV), 2e-6);
            Buf dgR = buf(g0), duR = buf(u0), dgV = buf(g0), duV = buf(u0);
            REF.swigluBackward(dgR, duR, buf(d), buf(x), buf(y), n);
            VK.swigluBackward(dgV, duV, buf(d), buf(x), buf(y), n);
            close("swigluBackward dgate n=" + n, a(dgR), a(dgV), 2e-6);
            close("swigluBackward dup n=" + n, a(duR), a(duV), 2e-6);
            Buf sR = buf(x), sV = buf(x);
            REF.scale(sR, n, 0.37f);
            VK.scale(sV, n, 0.37f);
            assertArrayEquals(a(sR), a(sV), "scale");
            REF.axpy(sR, buf(y), n, -1.3f);
            VK.axpy(sV, buf(y), n, -1.3f);
            assertArrayEquals(a(sR), a(sV), "axpy");
            double ssR = REF.sumSquares(buf(x), n), ssV = VK.sumSquares(buf(x), n);
            assertEquals(ssR, ssV, 1e-12 * ssR, "sumSquares");
        }
    }

    @Test
    void optimizer() {
        for (int n : LENS) {
            float[] p = rand(n), m = rand(n), v = rand(n), g = rand(n);
            for (int i = 0; i < n; i++) {
                v[i] = Math.abs(v[i]) * 1e-3f;
            }
            Buf pR = buf(p), mR = buf(m), vR = buf(v), gR = buf(g), pV = buf(p), mV = buf(m), vV = buf(v), gV = buf(g);
            for (int step = 1; step <= 3; step++) {
                REF.grokfastEma(gR, mR, n, 0.98f, 2f);
                VK.grokfastEma(gV, mV, n, 0.98f, 2f);
                REF.adamw(pR, mR, vR, gR, n, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, step);
                VK.adamw(pV, mV, vV, gV, n, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, step);
            }
            assertArrayEquals(a(pR), a(pV), "adamw p n=" + n);
            assertArrayEquals(a(mR), a(mV), "adamw m n=" + n);
            assertArrayEquals(a(vR), a(vV), "adamw v n=" + n);
            assertArrayEquals(a(gR), a(gV), "grokfast g n=" + n);
        }
    }

    // ---- embeddings --------------------------------------------------------------------------

    @Test
    void embedding() {
        int B = 3, T = 7, C = 13, V = 29, maxT = 11;
        int[] ids = new int[B * T];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = rnd.nextInt(V);
        }
        float[] wte = rand(V * C), wpe = rand(maxT * C);
        for (DType dt : new DType[] {null, DType.BF16, DType.F16}) {
            Weight te = dt == null ? new F32Weight(new CpuBuf(wte), V, C) : stored(wte, V, C, dt);
            Weight pe = new F32Weight(new CpuBuf(wpe), maxT, C);
            Buf oR = REF.alloc(B * T * C), oV = VK.alloc(B * T * C);
            REF.embedding(oR, ids, te, pe, B, T, C, 2);
            VK.embedding(oV, ids, te, pe, B, T, C, 2);
            assertArrayEquals(a(oR), a(oV), "embedding " + dt);
            REF.embedding(oR, ids, te, null, B, T, C, 0);
            VK.embedding(oV, ids, te, null, B, T, C, 0);
            assertArrayEquals(a(oR), a(oV), "embedding no wpe " + dt);
        }
        float[] d = rand(B * T * C), dw0 = rand(V * C), dp0 = rand(maxT * C);
        Buf dwR = buf(dw0), dpR = buf(dp0), dwV = buf(dw0), dpV = buf(dp0);
        REF.embeddingBackward(dwR, dpR, buf(d), ids, B, T, C);
        VK.embeddingBackward(dwV, dpV, buf(d), ids, B, T, C);
        assertArrayEquals(a(dwR), a(dwV));
        assertArrayEquals(a(dpR), a(dpV));
        assertTrue(VK.name().equals("vector"));
    }

    @Test
    void backendsPickThisClassForCpu() {
        try (var k = bitnet.kernels.Backends.select("cpu", 2).kernels()) {
            assertEquals("vector", k.name());
            assertEquals(2, ((VectorKernels) k).threads());
        }
    }

    /** The scalar twin swiglu runs while the JIT is busy gives the vector path's bits, tails and extremes included. */
    @Test
    void swigluScalarTwinSameBits() {
        int n = 1000 + 3;
        float[] g = rand(n), u = rand(n);
        for (int i = 0; i < n; i += 7) {
            g[i] *= 40; // saturating sigmoids, both signs
        }
        g[5] = 0f;
        g[6] = -0f;
        float[] v = new float[n], sc = new float[n];
        VectorKernels.swiglu(v, g, u, 1, n, true);
        VectorKernels.swiglu(sc, g, u, 1, n, false);
        for (int i = 1; i < n; i++) {
            assertEquals(Float.floatToRawIntBits(v[i]), Float.floatToRawIntBits(sc[i]), "element " + i + ": g " + g[i]);
        }
        assertEquals(0f, v[0], "outside the range untouched");
    }
}
