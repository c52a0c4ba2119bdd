package bitnet.kernels.ternary;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import bitnet.io.Packing;
import bitnet.kernels.cpu.CpuMatmul;
import bitnet.kernels.cpu.Parallel;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class TernaryWeightTest {
    private static final int[] COLS = {1, 7, 13, 255, 4097};

    private static byte[] codes(int n, Random r) {
        byte[] q = new byte[n];
        for (int i = 0; i < n; i++) {
            q[i] = (byte) (r.nextInt(3) - 1);
        }
        return q;
    }

    private static float[] gauss(int n, Random r) {
        float[] f = new float[n];
        for (int i = 0; i < n; i++) {
            f[i] = (float) r.nextGaussian();
        }
        return f;
    }

    private static float[] scales(int rows, boolean perRow, Random r) {
        float[] s = new float[perRow ? rows : 1];
        for (int i = 0; i < s.length; i++) {
            s[i] = 0.01f + r.nextFloat();
        }
        return s;
    }

    /** |a - b| <= 1e-6 * Σ|terms| + 1e-6, the FP32 rounding bound scaled to the row. */
    private static void close(float[] want, float[] got, float[] mag, String what) {
        for (int i = 0; i < want.length; i++) {
            float tol = 1e-6f * (mag[i] + 1f) * 4;
            assertEquals(want[i], got[i], tol, what + " at " + i);
        }
    }

    /** Independent dense FP32 reference from the signed codes, plus Σ|x·w| per output for tolerances. */
    private static float[][] dense(byte[] q, float[] s, float[] x, float[] bias, int N, int C, int OC) {
        float[] out = new float[N * OC];
        float[] mag = new float[N * OC];
        for (int n = 0; n < N; n++) {
            for (int r = 0; r < OC; r++) {
                double acc = 0, m = 0;
                float sc = s.length == 1 ? s[0] : s[r];
                for (int c = 0; c < C; c++) {
                    acc += (double) x[n * C + c] * q[r * C + c] * sc;
                    m += Math.abs((double) x[n * C + c] * sc);
                }
                out[n * OC + r] = (float) (acc + (bias == null ? 0 : bias[r]));
                mag[n * OC + r] = (float) m;
            }
        }
        return new float[][] {out, mag};
    }

    /**
     * Every forward path, whatever this CPU would pick: table lookup or row decoding, and masked
     * or code-multiplying row kernels.
     */
    @ParameterizedTest(name = "tables={0} masked={1}")
    @CsvSource({"false,false", "false,true", "true,false", "true,true"})
    void forwardParityOddSizes(boolean tables, boolean masked) {
        Random rnd = new Random(11);
        for (Packing p : Packing.values()) {
            for (int C : COLS) {
                for (int N : new int[] {1, 2, 5}) {
                    int OC = C > 1000 ? 17 : 13;
                    boolean perRow = N != 2;
                    byte[] q = codes(OC * C, rnd);
                    float[] s = scales(OC, perRow, rnd);
                    TernaryWeight w = TernaryWeight.pack(p, q, s, OC, C)
                            .withTables(tables)
                            .withMaskedRows(masked);
                    float[] x = gauss(N * C, rnd);
                    float[] bias = N == 5 ? null : gauss(OC, rnd);
                    float[] fast = new float[N * OC], slow = new float[N * OC];
                    w.matmulInto(fast, x, bias, N, C, OC);
                    TernaryScalar.matmul(w, slow, x, bias, N, C, OC);
                    float[][] ref = dense(q, s, x, bias, N, C, OC);
                    String what = p + " N=" + N + " C=" + C;
                    close(slow, fast, ref[1], what + " vector vs scalar");
                    close(ref[0], slow, ref[1], what + " scalar vs dense");
                    for (int r = 0; r < OC; r++) {
                        for (int c = 0; c < C; c += 97) {
                            assertEquals(s[perRow ? r : 0] * q[r * C + c], w.get(r, c));
                        }
                    }
                }
            }
        }
    }

    /**
     * The FP32 row kernels at any activation scale: the code-multiplying one scales x by powers of
     * two (4^-k per code slot), which must stay exact, so its result scales with x exactly (2^k x
     * gives 2^k times the bits) from 2^-100 to 2^100; x = 0 gives 0, and a NaN is carried through.
     */
    @ParameterizedTest(name = "masked={0}")
    @CsvSource({"false", "true"})
    void rowKernelsExactAtAnyActivationScale(boolean masked) {
        Random rnd = new Random(17);
        for (Packing p : Packing.values()) {
            for (int C : new int[] {1031, 2048}) {
                int OC = 7;
                byte[] q = codes(OC * C, rnd);
                TernaryWeight w = TernaryWeight.pack(p, q, new float[] {1f}, OC, C)
                        .withTables(false)
                        .withMaskedRows(masked);
                float[] x = gauss(C, rnd);
                float[] base = new float[OC];
                w.matmulInto(base, x, null, 1, C, OC);
                float[][] ref = dense(q, new float[] {1f}, x, null, 1, C, OC);
                close(ref[0], base, ref[1], p + " C=" + C + " scale 1");
                for (int k : new int[] {-100, -60, -1, 1, 60, 100}) {
                    float[] xs = new float[C];
                    for (int c = 0; c < C; c++) {
                        xs[c] = Math.scalb(x[c], k);
                    }
                    float[] got = new float[OC];
                    w.matmulInto(got, xs, null, 1, C, OC);
                    for (int r = 0; r < OC; r++) {
                        assertEquals(Math.scalb(base[r], k), got[r], p + " C=" + C + " x 2^" + k + " row " + r);
                    }
                }
                float[] zero = new float[OC];
                w.matmulInto(zero, new float[C], null, 1, C, OC);
                assertArrayEquals(new float[OC], zero, p + " C=" + C + " x = 0");
                float[] withNaN = x.clone();
                withNaN[C / 3] = Float.NaN;
                float[] nan = new float[OC];
                w.matmulInto(nan, withNaN, null, 1, C, OC);
                for (int r = 0; r < OC; r++) {
                    // the masked kernels add only where the weight is nonzero (a sparse product), so
                    // a NaN meets the rows whose weight at that column is nonzero; the code kernel
                    // multiplies every column (0 x NaN too), as the dense sum does
                    if (!masked || q[r * C + C / 3] != 0) {
                        assertTrue(Float.isNaN(nan[r]), p + " C=" + C + " NaN in x, row " + r + ": " + nan[r]);
                    }
                }
            }
        }
    }

    /**
     * The batch (GEMM) path on odd sizes: columns across K blocks (base-3 bytes straddling a block
     * edge), rows across panels, both scale kinds; against the scalar twin and the row kernels, and
     * unchanged by the thread count.
     */
    @Test
    void gemmPathOddSizes() {
        Random rnd = new Random(16);
        try (Parallel par = new Parallel(2)) {
            for (Packing p : Packing.values()) {
                for (int C : new int[] {1, 13, 255, 1031}) {
                    for (int N : new int[] {16, 19, 37}) {
                        int OC = N == 19 ? 37 : 13;
                        boolean perRow = N != 16;
                        byte[] q = codes(OC * C, rnd);
                        float[] s = scales(OC, perRow, rnd);
                        // without the table kernels: their batch path is batchTablesMatchRowByRow's
                        TernaryWeight w = TernaryWeight.pack(p, q, s, OC, C)
                                .withTables(false)
                                .withGemmMin(16);
                        float[] x = gauss(N * C, rnd);
                        float[] bias = N == 37 ? null : gauss(OC, rnd);
                        float[] gemm = new float[N * OC],
                                pooled = new float[N * OC],
                                rowsOut = new float[N * OC],
                                slow = new float[N * OC];
                        w.matmulInto(gemm, x, bias, N, C, OC);
                        w.matmulInto(par, pooled, x, bias, N, C, OC);
                        w.withGemmMin(0).matmulInto(rowsOut, x, bias, N, C, OC);
                        TernaryScalar.matmul(w, slow, x, bias, N, C, OC);
                        float[][] ref = dense(q, s, x, bias, N, C, OC);
                        String what = p + " N=" + N + " C=" + C;
                        close(slow, gemm, ref[1], what + " gemm vs scalar");
                        close(rowsOut, gemm, ref[1], what + " gemm vs row kernels");
                        assertArrayEquals(gemm, pooled, what + " Parallel(2) vs one thread");
                    }
                }
            }
        }
    }

    @ParameterizedTest(name = "tables={0} masked={1}")
    @CsvSource({"false,false", "false,true", "true,true"})
    void a8ParityAndAccuracy(boolean tables, boolean masked) {
        Random rnd = new Random(12);
        for (Packing p : Packing.values()) {
            for (int C : COLS) {
                for (int N : new int[] {1, 3}) {
                    int OC = 9;
                    byte[] q = codes(OC * C, rnd);
                    float[] s = scales(OC, true, rnd);
                    CpuMatmul w = TernaryWeight.pack(p, q, s, OC, C)
                            .withTables(tables)
                            .withMaskedRows(masked)
                            .withA8(true);
                    float[] x = gauss(N * C, rnd);
                    float[] bias = gauss(OC, rnd);
                    float[] fast = new float[N * OC], slow = new float[N * OC];
                    w.matmulInto(fast, x, bias, N, C, OC);
                    TernaryScalar.matmulA8((TernaryWeight) w, slow, x, bias, N, C, OC);
                    // integer accumulation: the vector and scalar paths agree bit for bit
                    assertArrayEquals(slow, fast, p + " C=" + C);
                    // and the int8 rounding error is at most half a step per element
                    float[][] ref = dense(q, s, x, bias, N, C, OC);
                    for (int n = 0; n < N; n++) {
                        float amax = 0f;
                        for (int c = 0; c < C; c++) {
                            amax = Math.max(amax, Math.abs(x[n * C + c]));
                        }
                        for (int r = 0; r < OC; r++) {
                            float tol = 0.5f * amax / 127f * s[r] * C * 1.0001f + 1e-4f;
                            assertEquals(ref[0][n * OC + r], fast[n * OC + r], tol);
                        }
                    }
                }
            }
        }
    }

    @ParameterizedTest(name = "tables={0} masked={1}")
    @CsvSource({"false,false", "false,true", "true,true"})
    void a8WideRowsDoNotOverflow(boolean tables, boolean masked) {
        // rows of all +1 (or all -1) against activations at the int8 extremes: the int16 partial sums
        // sit at their largest, across many flushes (C spans more than 16 blocks of any vector size)
        int C = 8195, OC = 3;
        byte[] q = new byte[OC * C];
        for (int i = 0; i < q.length; i++) {
            q[i] = (byte) (i / C == 0 ? 1 : i / C == 1 ? -1 : (i % 2 == 0 ? 1 : -1));
        }
        float[] x = new float[2 * C];
        for (int c = 0; c < C; c++) {
            x[c] = 1f;
            x[C + c] = c % 2 == 0 ? -1f : 1f;
        }
        TernaryWeight w = TernaryWeight.pack(Packing.TWO_BIT, q, new float[] {1f}, OC, C)
                .withTables(tables)
                .withMaskedRows(masked);
        float[] fast = new float[2 * OC], slow = new float[2 * OC];
        w.matmulA8Into(fast, x, null, 2, C, OC);
        TernaryScalar.matmulA8(w, slow, x, null, 2, C, OC);
        assertArrayEquals(slow, fast);
        assertEquals(C, fast[0], 1e-2f);
        assertEquals(-C, fast[1], 1e-2f);
        assertEquals(-C, fast[OC + 2], 1e-2f);
    }

    @Test
    void backwardInputParity() {
        Random rnd = new Random(13);
        for (Packing p : Packing.values()) {
            for (int C : COLS) {
                for (int N : new int[] {1, 4}) {
                    int OC = C > 1000 ? 19 : 11;
                    byte[] q = codes(OC * C, rnd);
                    float[] s = scales(OC, N == 1, rnd);
                    TernaryWeight w = TernaryWeight.pack(p, q, s, OC, C);
                    float[] dout = gauss(N * OC, rnd);
                    float[] init = gauss(N * C, rnd);
                    float[] fast = init.clone(), slow = init.clone();
                    w.matmulBackwardInput(fast, dout, N, C, OC);
                    TernaryScalar.matmulBackwardInput(w, slow, dout, N, C, OC);
                    float[] mag = new float[N * C];
                    for (int n = 0; n < N; n++) {
                        for (int c = 0; c < C; c++) {
                            double m = Math.abs(init[n * C + c]);
                            double acc = init[n * C + c];
                            for (int r = 0; r < OC; r++) {
                                float g = dout[n * OC + r] * s[s.length == 1 ? 0 : r];
                                m += Math.abs(g);
                                acc += (double) g * q[r * C + c];
                            }
                            mag[n * C + c] = (float) m;
                            assertEquals(acc, slow[n * C + c], 1e-5 * (m + 1), "scalar vs dense");
                        }
                    }
                    close(slow, fast, mag, p + " backward N=" + N + " C=" + C);
                }
            }
        }
    }

    @ParameterizedTest(name = "tables={0}")
    @ValueSource(booleans = {false, true})
    void largeParallelMatvecOnNativeSegment(boolean tables) {
        Random rnd = new Random(14);
        int OC = 301, C = 1027;
        byte[] q = codes(OC * C, rnd);
        float[] s = scales(OC, true, rnd);
        byte[] packed = bitnet.io.TernaryPacking.pack2bit(q, OC, C);
        // kernels read from pool threads: the segment must come from a shared (or global/auto) arena
        try (Arena arena = Arena.ofShared();
                Parallel par = new Parallel(2)) {
            MemorySegment seg = arena.allocate(packed.length);
            MemorySegment.copy(MemorySegment.ofArray(packed), 0, seg, 0, packed.length);
            TernaryWeight w = new TernaryWeight(Packing.TWO_BIT, seg, s, OC, C).withTables(tables);
            for (int N : new int[] {1, 6}) {
                float[] x = gauss(N * C, rnd);
                float[] slow = new float[N * OC],
                        common = new float[N * OC],
                        pool = new float[N * OC],
                        one = new float[N * OC];
                TernaryScalar.matmul(w, slow, x, null, N, C, OC);
                w.matmulInto(common, x, null, N, C, OC); // common ForkJoinPool
                w.matmulInto(par, pool, x, null, N, C, OC); // the backend's pool
                w.withParallel(false).matmulInto(one, x, null, N, C, OC);
                float[][] ref = dense(q, s, x, null, N, C, OC);
                close(slow, common, ref[1], "native matvec N=" + N);
                // each output row is computed whole by one thread: the split never changes a bit
                assertArrayEquals(one, common, "common pool vs one thread, N=" + N);
                assertArrayEquals(one, pool, "Parallel(2) vs one thread, N=" + N);
                float[] a8one = new float[N * OC], a8pool = new float[N * OC];
                w.withA8(true).withParallel(false).matmulInto(a8one, x, null, N, C, OC);
                w.withA8(true).matmulInto(par, a8pool, x, null, N, C, OC);
                assertArrayEquals(a8one, a8pool, "A8 Parallel(2) vs one thread, N=" + N);
            }
        }
    }

    /** Chunks of several tiles (the twelve-tile table kernel, a last unit of fewer tiles) against the scalar twin. */
    @Test
    void tableKernelsOverManyTiles() {
        Random rnd = new Random(15);
        int OC = 16 * 45 + 3, C = 200; // 46 tiles: three units of 12, then 10 (the last 12, 2 recomputed)
        byte[] q = codes(OC * C, rnd);
        float[] s = scales(OC, true, rnd);
        TernaryWeight w = TernaryWeight.pack(Packing.TWO_BIT, q, s, OC, C).withTables(true);
        for (int threads : new int[] {1, 2}) {
            try (Parallel par = new Parallel(threads)) {
                for (int N : new int[] {1, 3}) {
                    float[] x = gauss(N * C, rnd), bias = gauss(OC, rnd);
                    float[] fast = new float[N * OC], slow = new float[N * OC];
                    w.matmulInto(par, fast, x, bias, N, C, OC);
                    TernaryScalar.matmul(w, slow, x, bias, N, C, OC);
                    close(slow, fast, dense(q, s, x, bias, N, C, OC)[1], "tiles, threads=" + threads + " N=" + N);
                }
            }
        }
    }

    /**
     * The batch table path (quads of tiles and input rows, passes over K blocks of 16 groups) gives
     * each input row the very bits of the batch-1 table kernels, whatever the thread count: rows
     * with a last partial quad of tiles (49: four tiles, the last of one row), columns across K
     * blocks and groups (C = 300: 17 groups, two passes), input rows past a quad and a block of 16.
     */
    @Test
    void batchTablesMatchRowByRow() {
        Random rnd = new Random(17);
        for (int OC : new int[] {49, 16 * 9 + 5}) {
            for (int C : new int[] {7, 300}) {
                byte[] q = codes(OC * C, rnd);
                float[] s = scales(OC, C == 300, rnd);
                TernaryWeight w =
                        TernaryWeight.pack(Packing.TWO_BIT, q, s, OC, C).withTables(true);
                for (int N : new int[] {4, 6, 21}) {
                    float[] x = gauss(N * C, rnd), bias = OC == 49 ? null : gauss(OC, rnd);
                    float[] rowByRow = new float[N * OC], one = new float[N * OC], slow = new float[N * OC];
                    for (int n = 0; n < N; n++) {
                        float[] o = new float[OC];
                        w.withParallel(false)
                                .matmulInto(o, java.util.Arrays.copyOfRange(x, n * C, n * C + C), bias, 1, C, OC);
                        System.arraycopy(o, 0, rowByRow, n * OC, OC);
                    }
                    w.withParallel(false).matmulInto(one, x, bias, N, C, OC);
                    TernaryScalar.matmul(w, slow, x, bias, N, C, OC);
                    String what = "OC=" + OC + " C=" + C + " N=" + N;
                    close(slow, one, dense(q, s, x, bias, N, C, OC)[1], what + " batch vs scalar");
                    assertArrayEquals(rowByRow, one, what + " batch vs row by row");
                    for (int threads : new int[] {2, 3}) {
                        try (Parallel par = new Parallel(threads)) {
                            float[] pooled = new float[N * OC];
                            w.matmulInto(par, pooled, x, bias, N, C, OC);
                            assertArrayEquals(one, pooled, what + " Parallel(" + threads + ") vs one thread");
                        }
                    }
                }
            }
        }
    }

    @Test
    void rejectsBadInput() {
        assertThrows(
                IllegalArgumentException.class,
                () -> new TernaryWeight(
                        Packing.TWO_BIT, MemorySegment.ofArray(new byte[] {3}), new float[] {1f}, 1, 1));
        assertThrows(
                IllegalArgumentException.class,
                () -> new TernaryWeight(
                        Packing.BASE3, MemorySegment.ofArray(new byte[] {(byte) 250}), new float[] {1f}, 1, 1));
        assertThrows(
                IllegalArgumentException.class,
                () -> new TernaryWeight(Packing.TWO_BIT, MemorySegment.ofArray(new byte[2]), new float[] {1f}, 1, 1));
        assertThrows(
                IllegalArgumentException.class,
                () -> TernaryWeight.pack(Packing.TWO_BIT, new byte[6], new float[2], 3, 2));
        TernaryWeight w = TernaryWeight.pack(Packing.TWO_BIT, new byte[6], new float[3], 3, 2);
        assertThrows(IllegalArgumentException.class, () -> w.matmulInto(new float[3], new float[3], null, 1, 3, 3));
    }
}
