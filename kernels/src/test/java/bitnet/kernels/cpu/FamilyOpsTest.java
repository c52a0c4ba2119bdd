package bitnet.kernels.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import bitnet.kernels.Buf;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

/**
 * The ops of the newer families (exact-erf GELU, GeGLU, soft-capping, partial RoPE): the vector
 * twins equal the scalar oracle bit for bit on odd sizes, erf matches tabulated values, every
 * backward matches central finite differences, and partial RoPE leaves the unrotated dims alone.
 */
class FamilyOpsTest {
    static final ScalarKernels REF = new ScalarKernels();
    static final VectorKernels VK = new VectorKernels(2);
    static final int[] LENS = {1, 7, 13, 255, 4097, 100_003};
    final Random rnd = new Random(7);

    @AfterAll
    static void close() {
        VK.close();
    }

    float[] rand(int n, float scale) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (rnd.nextFloat() * 2 - 1) * scale;
        }
        return a;
    }

    static Buf buf(float[] a) {
        return new CpuBuf(a.clone());
    }

    static float[] a(Buf b) {
        return ((CpuBuf) b).a;
    }

    @Test
    void erfMatchesTabulatedValues() {
        double[][] tab = {
            {0, 0},
            {0.5, 0.5204998778130465},
            {1, 0.8427007929497149},
            {-1.5, -0.9661051464753108},
            {2, 0.9953222650189527},
            {2.9, 0.9999589021219005},
            {3, 0.9999779095030014},
            {4, 0.9999999845827421},
            {7, 1}
        };
        for (double[] t : tab) {
            assertEquals(t[1], ScalarKernels.erf(t[0]), 1e-13, "erf(" + t[0] + ")");
        }
    }

    @Test
    void vectorTwinsEqualTheScalarOracle() {
        for (int n : LENS) {
            float[] x = rand(n, 6), y = rand(n, 1), d = rand(n, 1), g0 = rand(n, 1), u0 = rand(n, 1);
            Buf oR = REF.alloc(n), oV = VK.alloc(n);
            REF.geluErf(oR, buf(x), n);
            VK.geluErf(oV, buf(x), n);
            assertArrayEquals(a(oR), a(oV), "geluErf n=" + n);
            Buf gR = buf(g0), gV = buf(g0);
            REF.geluErfBackward(gR, buf(d), buf(x), n);
            VK.geluErfBackward(gV, buf(d), buf(x), n);
            assertArrayEquals(a(gR), a(gV), "geluErfBackward n=" + n);
            REF.geglu(oR, buf(x), buf(y), n);
            VK.geglu(oV, buf(x), buf(y), n);
            assertArrayEquals(a(oR), a(oV), "geglu n=" + n);
            Buf dgR = buf(g0), duR = buf(u0), dgV = buf(g0), duV = buf(u0);
            REF.gegluBackward(dgR, duR, buf(d), buf(x), buf(y), n);
            VK.gegluBackward(dgV, duV, buf(d), buf(x), buf(y), n);
            assertArrayEquals(a(dgR), a(dgV), "gegluBackward dgate n=" + n);
            assertArrayEquals(a(duR), a(duV), "gegluBackward dup n=" + n);
            REF.softcap(oR, buf(x), n, 3f);
            VK.softcap(oV, buf(x), n, 3f);
            assertArrayEquals(a(oR), a(oV), "softcap n=" + n);
            Buf sR = buf(d), sV = buf(d);
            REF.softcapBackward(sR, sR, buf(x), n, 3f);
            VK.softcapBackward(sV, sV, buf(x), n, 3f);
            assertArrayEquals(a(sR), a(sV), "softcapBackward (in place) n=" + n);
        }
    }

    /** Central difference of f at x[i] (in double through the float op), h relative. */
    interface Op {
        float at(float x);
    }

    static void checkGrad(String what, Op f, Op grad) {
        for (float x = -5.5f; x <= 5.5f; x += 0.37f) {
            double h = 1e-3;
            double fd = (f.at((float) (x + h)) - f.at((float) (x - h))) / (2 * h);
            assertEquals(fd, grad.at(x), 2e-3 * Math.max(1, Math.abs(fd)), what + " at " + x);
        }
    }

    static float one(java.util.function.BiConsumer<Buf, Buf> op, float x) {
        Buf out = REF.alloc(1);
        op.accept(out, buf(new float[] {x}));
        return a(out)[0];
    }

    @Test
    void backwardsMatchFiniteDifferences() {
        checkGrad("geluErf", x -> one((o, i) -> REF.geluErf(o, i, 1), x), x -> {
            Buf g = REF.alloc(1);
            REF.geluErfBackward(g, buf(new float[] {1}), buf(new float[] {x}), 1);
            return a(g)[0];
        });
        float up = 0.7f;
        checkGrad("geglu dgate", x -> one((o, i) -> REF.geglu(o, i, buf(new float[] {up}), 1), x), x -> {
            Buf dg = REF.alloc(1), du = REF.alloc(1);
            REF.gegluBackward(dg, du, buf(new float[] {1}), buf(new float[] {x}), buf(new float[] {up}), 1);
            return a(dg)[0];
        });
        checkGrad("softcap", x -> one((o, i) -> REF.softcap(o, i, 1, 2.5f), x), x -> {
            Buf d = buf(new float[] {1});
            REF.softcapBackward(d, d, buf(new float[] {x}), 1, 2.5f);
            return a(d)[0];
        });
        // geglu's dup is gelu_tanh(gate), the same op as GPT-2's gelu
        Buf dg = REF.alloc(1), du = REF.alloc(1), gl = REF.alloc(1);
        REF.gegluBackward(dg, du, buf(new float[] {1}), buf(new float[] {1.3f}), buf(new float[] {up}), 1);
        REF.gelu(gl, buf(new float[] {1.3f}), 1);
        assertEquals(a(gl)[0], a(du)[0]);
    }

    @Test
    void partialRopeRotatesOnlyTheFirstDims() {
        int B = 2, T = 5, NH = 3, HS = 16, RD = 4, pos0 = 3;
        int maxT = T + pos0;
        float[] cos = new float[maxT * RD / 2], sin = new float[maxT * RD / 2];
        float[] cosFull = new float[maxT * HS / 2], sinFull = new float[maxT * HS / 2];
        for (int t = 0; t < maxT; t++) {
            for (int i = 0; i < HS / 2; i++) {
                double ang = t * Math.pow(10000, -2.0 * i / HS);
                cosFull[t * HS / 2 + i] = (float) Math.cos(ang);
                sinFull[t * HS / 2 + i] = (float) Math.sin(ang);
                if (i < RD / 2) {
                    cos[t * RD / 2 + i] = (float) Math.cos(ang);
                    sin[t * RD / 2 + i] = (float) Math.sin(ang);
                }
            }
        }
        float[] x = rand(B * T * NH * HS, 1);
        // RD = HS is the full rope
        Buf full = buf(x), fullOld = buf(x);
        REF.rope(full, buf(cosFull), buf(sinFull), B, T, NH, HS, HS, pos0);
        REF.rope(fullOld, buf(cosFull), buf(sinFull), B, T, NH, HS, pos0);
        assertArrayEquals(a(fullOld), a(full));
        Buf p = buf(x);
        REF.rope(p, buf(cos), buf(sin), B, T, NH, HS, RD, pos0);
        float[] got = a(p).clone();
        for (int r = 0; r < B * T * NH; r++) {
            int t = (r / NH) % T;
            for (int i = 0; i < HS; i++) {
                int o = r * HS + i;
                if (i >= RD) {
                    assertEquals(x[o], got[o], "dim " + i + " passes through");
                } else {
                    int j = i % (RD / 2);
                    float c = cos[(pos0 + t) * RD / 2 + j], s = sin[(pos0 + t) * RD / 2 + j];
                    float want = i < RD / 2 ? x[o] * c - x[o + RD / 2] * s : x[o] * c + x[o - RD / 2] * s;
                    assertEquals(want, got[o], 1e-6, "rotated dim " + i);
                }
            }
        }
        // backward is the inverse rotation (tables are exact rotations)
        REF.ropeBackward(p, buf(cos), buf(sin), B, T, NH, HS, RD, pos0);
        float[] back = a(p);
        for (int i = 0; i < x.length; i++) {
            assertEquals(x[i], back[i], 1e-6);
        }
        // the vector backend is the scalar one's own rope
        Buf v = buf(x);
        VK.rope(v, buf(cos), buf(sin), B, T, NH, HS, RD, pos0);
        assertArrayEquals(got, a(v));
    }

    @Test
    void backendsWithoutPartialRopeSayWhat() {
        var k = new bitnet.kernels.Kernels() {
            @Override
            public String name() {
                return "plain";
            }

            @Override
            public Buf alloc(long n) {
                return REF.alloc(n);
            }

            @Override
            public Buf upload(float[] host, int n) {
                return REF.upload(host, n);
            }

            @Override
            public void download(Buf b, float[] host, int n) {
                REF.download(b, host, n);
            }

            @Override
            public void copy(Buf d, long o, Buf s, long so, long n) {}

            @Override
            public void zero(Buf b) {}

            @Override
            public bitnet.kernels.Weight weight(Buf b, int r, int c) {
                return null;
            }

            @Override
            public bitnet.kernels.Weight weight(bitnet.io.TensorData s) {
                return null;
            }

            @Override
            public Buf bufOf(bitnet.kernels.Weight w) {
                return null;
            }

            @Override
            public void embedding(
                    Buf o, int[] ids, bitnet.kernels.Weight a, bitnet.kernels.Weight b, int B, int T, int C, int p) {}

            @Override
            public void embeddingBackward(Buf a, Buf b, Buf c, int[] ids, int B, int T, int C) {}

            @Override
            public void matmul(Buf o, Buf i, bitnet.kernels.Weight w, Buf b, int N, int C, int OC) {}

            @Override
            public void matmulBackward(
                    Buf a, Buf b, Buf c, Buf d, Buf e, bitnet.kernels.Weight w, int N, int C, int OC) {}

            @Override
            public void layernorm(Buf o, Buf m, Buf r, Buf i, Buf w, Buf b, int N, int C, float eps) {}

            @Override
            public void layernormBackward(Buf a, Buf b, Buf c, Buf d, Buf e, Buf w, Buf m, Buf r, int N, int C) {}

            @Override
            public void rmsnorm(Buf o, Buf r, Buf i, Buf w, int N, int C, float eps) {}

            @Override
            public void rmsnormBackward(Buf a, Buf b, Buf c, Buf d, Buf w, Buf r, int N, int C) {}

            @Override
            public void rope(Buf x, Buf c, Buf s, int B, int T, int NH, int HS, int p) {}

            @Override
            public void ropeBackward(Buf x, Buf c, Buf s, int B, int T, int NH, int HS, int p) {}

            @Override
            public void attention(
                    Buf o, Buf a, Buf q, Buf kk, Buf v, int B, int T, int TK, int NH, int NKV, int HS, int w) {}

            @Override
            public void attentionBackward(
                    Buf a, Buf b, Buf c, Buf d, Buf e, Buf q, Buf kk, Buf v, int B, int T, int NH, int NKV, int HS) {}

            @Override
            public void add(Buf o, Buf a, Buf b, long n) {}

            @Override
            public void gelu(Buf o, Buf i, long n) {}

            @Override
            public void geluBackward(Buf a, Buf b, Buf c, long n) {}

            @Override
            public void swiglu(Buf o, Buf g, Buf u, long n) {}

            @Override
            public void swigluBackward(Buf a, Buf b, Buf c, Buf d, Buf e, long n) {}

            @Override
            public void crossEntropy(Buf l, Buf d, Buf z, int[] t, int N, int V, float s) {}

            @Override
            public void adamw(
                    Buf p, Buf m, Buf v, Buf g, long n, float lr, float b1, float b2, float eps, float wd, int step) {}

            @Override
            public void grokfastEma(Buf g, Buf mu, long n, float a, float l) {}

            @Override
            public double sumSquares(Buf x, long n) {
                return 0;
            }

            @Override
            public void scale(Buf x, long n, float s) {}

            @Override
            public void axpy(Buf y, Buf x, long n, float a) {}
        };
        var e = assertThrows(UnsupportedOperationException.class, () -> k.rope(null, null, null, 1, 1, 1, 8, 4, 0));
        assertEquals("plain backend: partial rotary embedding", e.getMessage());
        assertThrows(UnsupportedOperationException.class, () -> k.geluErf(null, null, 1));
    }
}
