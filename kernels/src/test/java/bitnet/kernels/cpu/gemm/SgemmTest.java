package bitnet.kernels.cpu.gemm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import bitnet.kernels.cpu.Parallel;
import java.time.Duration;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Sgemm against a double-precision reference on shapes that cross every block edge (MR, NR, KC, MC,
 * NC and their tails), both A layouts, both B layouts, overwrite with and without bias and
 * accumulate; the same bits with 1 and 2 threads; the block sizes follow their documented rule.
 */
class SgemmTest {

    /**
     * M, N, K: tails of MR and NR, K across KC, M across MC, N across NC, and a task with more panels
     * than one L2 group while accumulating (K across KC).
     */
    static int[][] shapes() {
        return new int[][] {
            {1, 1, 1},
            {Sgemm.MR + 1, Sgemm.NR + 3, 7},
            {2 * Sgemm.MR - 1, 3 * Sgemm.NR - 1, Sgemm.KC + 5},
            {2 * Sgemm.MR + 3, 2 * Sgemm.NR + 5, 2 * Sgemm.KC + 1},
            {5, Sgemm.NC + Sgemm.NR + 1, 3},
            {Sgemm.MC + 3, 20, 9},
            {61, 45, 300},
            {2 * Sgemm.MR + 1, 40 * Sgemm.NR + 3, Sgemm.KC + 7}
        };
    }

    @Test
    void matchesReference() {
        Random r = new Random(11);
        for (int[] s : shapes()) {
            int M = s[0], N = s[1], K = s[2];
            for (boolean aTrans : new boolean[] {false, true}) {
                for (boolean bTrans : new boolean[] {false, true}) {
                    for (int mode = 0; mode < 3; mode++) { // 0 overwrite, 1 overwrite + bias, 2 accumulate
                        int lda = (aTrans ? M : K) + 3, ldb = (bTrans ? K : N) + 2, ldc = N + 1;
                        float[] a = rand(r, (aTrans ? K : M) * lda), b = rand(r, (bTrans ? N : K) * ldb);
                        float[] bias = mode == 1 ? rand(r, N) : null;
                        float[] c = rand(r, M * ldc), c0 = c.clone();
                        PackB pb = bTrans ? PackB.transposed(b, ldb) : PackB.rowMajor(b, ldb);
                        try (Parallel par = new Parallel(2)) {
                            Sgemm.gemm(par, M, N, K, a, 0, lda, aTrans, pb, c, ldc, mode < 2, bias);
                        }
                        for (int m = 0; m < M; m++) {
                            for (int n = 0; n < N; n++) {
                                double want = mode == 2 ? c0[m * ldc + n] : mode == 1 ? bias[n] : 0;
                                double mag = Math.abs(want);
                                for (int k = 0; k < K; k++) {
                                    double x = aTrans ? a[k * lda + m] : a[m * lda + k];
                                    double y = bTrans ? b[n * ldb + k] : b[k * ldb + n];
                                    want += x * y;
                                    mag += Math.abs(x * y);
                                }
                                float got = c[m * ldc + n];
                                String at = M + "x" + N + "x" + K + " aT=" + aTrans + " bT=" + bTrans + " mode=" + mode
                                        + " at " + m + "," + n;
                                assertTrue(Math.abs(got - want) <= 1e-6 * mag + 1e-30, at + ": " + got + " vs " + want);
                            }
                            // the padding past N in each row of C is never written
                            if (ldc > N) {
                                assertEquals(c0[m * ldc + N], c[m * ldc + N], "padding of row " + m);
                            }
                        }
                    }
                }
            }
        }
    }

    @Test
    void sameBitsWithAnyThreadCount() {
        Random r = new Random(5);
        // the last shape has two B blocks, several K blocks and, for transposed A on 3 threads, two
        // A blocks packed by all threads together (Pipeline's steps of every kind)
        for (int[] s : new int[][] {
            {301, 517, 1029}, {1029, 33, 517}, {37, 300, 700}, {Sgemm.MC + 76, Sgemm.NC + 7, 2 * Sgemm.KC + 3}
        }) {
            int M = s[0], N = s[1], K = s[2];
            for (boolean aTrans : new boolean[] {false, true}) {
                float[] a = rand(r, M * K), b = rand(r, K * N), bias = rand(r, N);
                float[] c1 = new float[M * N], c2 = new float[M * N], c3 = new float[M * N];
                int lda = aTrans ? M : K;
                Sgemm.gemm(null, M, N, K, a, 0, lda, aTrans, PackB.rowMajor(b, N), c1, N, true, bias);
                try (Parallel p2 = new Parallel(2);
                        Parallel p3 = new Parallel(3)) {
                    Sgemm.gemm(p2, M, N, K, a, 0, lda, aTrans, PackB.rowMajor(b, N), c2, N, true, bias);
                    Sgemm.gemm(p3, M, N, K, a, 0, lda, aTrans, PackB.rowMajor(b, N), c3, N, true, bias);
                }
                assertArrayEquals(c1, c2, M + "x" + N + "x" + K + " aTrans=" + aTrans + ", 2 threads");
                assertArrayEquals(c1, c3, M + "x" + N + "x" + K + " aTrans=" + aTrans + ", 3 threads");
            }
        }
    }

    @Test
    void aFailingTaskStopsTheOthers() {
        // a packing task that throws in the third K block: the call throws instead of leaving the
        // other thread waiting for that block's data
        int M = 200, N = 300, K = 4 * Sgemm.KC;
        float[] a = new float[M * K], b = new float[K * N], c = new float[M * N];
        PackB rows = PackB.rowMajor(b, N);
        PackB failing = new PackB() {
            @Override
            void pack(float[] dst, int off, int k0, int kc, int n0, int nr) {
                if (k0 >= 2 * Sgemm.KC) {
                    throw new IllegalArgumentException("bad block " + k0);
                }
                rows.pack(dst, off, k0, kc, n0, nr);
            }
        };
        for (boolean aTrans : new boolean[] {false, true}) {
            RuntimeException e = assertTimeoutPreemptively(Duration.ofSeconds(60), () -> {
                try (Parallel par = new Parallel(2)) {
                    return assertThrows(
                            RuntimeException.class,
                            () -> Sgemm.gemm(par, M, N, K, a, 0, aTrans ? M : K, aTrans, failing, c, N, true, null));
                }
            });
            Throwable root = e;
            while (root.getCause() != null) {
                root = root.getCause();
            }
            assertEquals("bad block " + 2 * Sgemm.KC, root.getMessage(), "aTrans=" + aTrans);
        }
    }

    @Test
    void blockSizesFollowTheCacheRule() {
        // an A strip (MR x KC floats) fills at most half of L1; an A block (MC x KC) and a B block
        // (KC x NC) a quarter of this core's L3 share each
        assertTrue(Sgemm.KC >= 64 && Sgemm.KC <= 512 && Sgemm.KC % 8 == 0, "KC " + Sgemm.KC);
        if (Blocking.L1 / 2 / (4L * Sgemm.MR) >= 64) {
            assertTrue(4L * Sgemm.KC * Sgemm.MR <= Blocking.L1 / 2, "KC " + Sgemm.KC + " for L1 " + Blocking.L1);
            // and no smaller than the rule allows (up to its cap and the rounding to 8)
            assertTrue(
                    Sgemm.KC == 512 || 4L * (Sgemm.KC + 8) * Sgemm.MR > Blocking.L1 / 2,
                    "KC " + Sgemm.KC + " for L1 " + Blocking.L1);
        }
        assertEquals(0, Sgemm.MC % Sgemm.MR);
        assertEquals(0, Sgemm.NC % Sgemm.NR);
        assertTrue(4L * Sgemm.NC * Sgemm.KC <= Math.max(Blocking.L3 / 4, 4L * Sgemm.NR * Sgemm.KC), "NC " + Sgemm.NC);
        assertTrue(4L * Sgemm.MC * Sgemm.KC <= Math.max(Blocking.L3 / 4, 4L * Sgemm.MR * Sgemm.KC), "MC " + Sgemm.MC);
        assertTrue(Sgemm.MC <= 1024 && Sgemm.NC <= 4096, "MC " + Sgemm.MC + " NC " + Sgemm.NC);
        // shallow products keep wider B blocks, within the NC x KC buffers
        for (int K : new int[] {1, 7, 96, 192, Sgemm.KC - 1, Sgemm.KC, 4 * Sgemm.KC}) {
            int cols = Sgemm.blockCols(K);
            assertTrue(cols >= Sgemm.NC && cols % Sgemm.NR == 0 && cols <= Math.max(4096, Sgemm.NC), K + ": " + cols);
            assertTrue((long) cols * Math.min(K, Sgemm.KC) <= (long) Sgemm.NC * Sgemm.KC, K + ": " + cols);
        }
        int nv = Sgemm.NR / Sgemm.L;
        assertTrue(
                Sgemm.MR * nv + nv + Sgemm.MR <= Sgemm.VREGS,
                "tile " + Sgemm.TILE + " for " + Sgemm.VREGS + " registers");
    }

    @Test
    void cacheSizesParse() {
        assertEquals(32L << 10, Blocking.parseSize("32K"));
        assertEquals(32L << 20, Blocking.parseSize("32M"));
        assertEquals(4096, Blocking.parseSize("4096"));
        assertEquals(2, Blocking.countCpus("0-1"));
        assertEquals(6, Blocking.countCpus("0-3,8,10"));
        assertEquals(1, Blocking.countCpus("5"));
    }

    @Test
    void gridSplitsRowsFirst() {
        // many rows (the demo's products): rows only, so each task packs only its own A rows
        int tasks = 2 * Sgemm.TASKS_PER_THREAD;
        assertEquals((long) tasks << 32 | 1, Sgemm.grid(2, 4096 / Sgemm.MR, 12));
        // one strip (a few tokens): the panels are split, as many groups as tasks or panels
        assertEquals(1L << 32 | Math.min(12, tasks), Sgemm.grid(2, 1, 12));
        assertEquals(2L << 32 | Math.min(12, (tasks + 1) / 2), Sgemm.grid(2, 2, 12));
        assertEquals(1L << 32 | 1, Sgemm.grid(1, 1000, 12));
    }

    static float[] rand(Random r, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = r.nextFloat() * 2 - 1;
        }
        return a;
    }

    /** packA's scalar copy (used while the JIT is busy) lays out the same values as its register transpose. */
    @Test
    void packAScalarCopyMatchesTranspose() {
        Random r = new Random(9);
        int M = 4 * Sgemm.MR + 3, K = 3 * Sgemm.L + 5, lda = K + 2;
        float[] a = rand(r, M * lda);
        for (int[] mk : new int[][] {{0, 0}, {1, 3}, {Sgemm.MR, Sgemm.L}}) {
            int m0 = mk[0], k0 = mk[1], mc = M - m0, kc = K - k0;
            float[] v = new float[Sgemm.MC * Sgemm.KC], s = new float[Sgemm.MC * Sgemm.KC];
            Sgemm.packA(v, a, 0, lda, false, m0, mc, k0, kc, true);
            Sgemm.packA(s, a, 0, lda, false, m0, mc, k0, kc, false);
            assertArrayEquals(v, s, "m0 " + m0 + " k0 " + k0);
            // and the layout is the documented one: ap[st*MR*kc + k*MR + i] = A(m0 + st*MR + i, k0 + k)
            int st = 1, k = kc - 1, i = Sgemm.MR - 1;
            assertEquals(a[(m0 + st * Sgemm.MR + i) * lda + k0 + k], v[st * Sgemm.MR * kc + k * Sgemm.MR + i]);
        }
    }

    /**
     * The packing of transposed A: its masked vector moves give the documented layout, whether the
     * k range is packed at once or in pieces (as the threads do; in reverse order here, so a move
     * that wrote past its piece would show), with zero padding rows; the scalar copy gives the same
     * values; the last strip reads up to a's last element.
     */
    @Test
    void transposedAPackingInPieces() {
        Random r = new Random(13);
        int M = 5 * Sgemm.MR + 2, K = 37, lda = M;
        float[] a = rand(r, K * lda);
        for (int[] mk : new int[][] {{0, 0}, {Sgemm.MR, 5}, {3, 1}}) {
            int m0 = mk[0], k0 = mk[1], mc = M - m0, kc = K - k0, ns = (mc + Sgemm.MR - 1) / Sgemm.MR;
            float[] whole = new float[Sgemm.MC * Sgemm.KC], pieces = new float[Sgemm.MC * Sgemm.KC];
            float[] scalar = new float[Sgemm.MC * Sgemm.KC];
            java.util.Arrays.fill(whole, Float.NaN);
            java.util.Arrays.fill(pieces, Float.NaN);
            Sgemm.packAT(whole, a, 0, lda, m0, mc, k0, kc, 0, kc, true);
            for (int j = 2; j >= 0; j--) {
                Sgemm.packAT(pieces, a, 0, lda, m0, mc, k0, kc, kc * j / 3, kc * (j + 1) / 3, true);
            }
            Sgemm.packAT(scalar, a, 0, lda, m0, mc, k0, kc, 0, kc, false);
            String at = "m0 " + m0 + " k0 " + k0;
            for (int st = 0; st < ns; st++) {
                for (int k = 0; k < kc; k++) {
                    for (int i = 0; i < Sgemm.MR; i++) {
                        int m = st * Sgemm.MR + i, d = st * Sgemm.MR * kc + k * Sgemm.MR + i;
                        float want = m < mc ? a[(k0 + k) * lda + m0 + m] : 0f;
                        assertEquals(want, whole[d], at + " strip " + st + " k " + k + " row " + i);
                        assertEquals(want, pieces[d], at + " (pieces) strip " + st + " k " + k + " row " + i);
                        assertEquals(want, scalar[d], at + " (scalar) strip " + st + " k " + k + " row " + i);
                    }
                }
            }
            // nothing written past the block
            assertTrue(Float.isNaN(whole[ns * Sgemm.MR * kc]), at);
        }
    }
}
