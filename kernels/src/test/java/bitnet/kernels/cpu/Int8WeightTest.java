package bitnet.kernels.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import bitnet.kernels.Buf;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Int8Weight against the dequantized FP32 matrix (scale * q), computed here in double. */
class Int8WeightTest {
    private final Random rnd = new Random(21);

    private Int8Weight make(byte[] q, float[] s, int rows, int cols) {
        MemorySegment seg = Arena.ofAuto().allocate(Math.max(1, q.length));
        MemorySegment.copy(MemorySegment.ofArray(q), 0, seg, 0, q.length);
        return new Int8Weight(seg.asSlice(0, q.length), s, rows, cols);
    }

    @Test
    void productsMatchTheDequantizedMatrix() {
        for (int cols : new int[] {1, 7, 16, 33, 192, 257, 1031}) {
            int rows = 37;
            byte[] q = new byte[rows * cols];
            rnd.nextBytes(q);
            float[] s = new float[rows];
            for (int r = 0; r < rows; r++) {
                s[r] = 0.001f + rnd.nextFloat() * 0.02f;
            }
            Int8Weight w = make(q, s, rows, cols);
            float[] dense = new float[rows * cols];
            for (int i = 0; i < dense.length; i++) {
                dense[i] = s[i / cols] * q[i];
            }
            check(w, dense, rows, cols);
        }
    }

    /** Int4 codes (Q4_0 values) as an int8 weight with a scale per block of 32: the same products of its values. */
    @Test
    void int4BlocksMatchTheirValues() {
        for (int cols : new int[] {32, 64, 192, 1024}) {
            int rows = 29;
            byte[] codes = new byte[rows * cols / 2];
            rnd.nextBytes(codes);
            short[] d = new short[rows * cols / 32];
            for (int i = 0; i < d.length; i++) {
                d[i] = Float.floatToFloat16((rnd.nextFloat() - 0.5f) * 0.05f);
            }
            float[] dense = new float[rows * cols];
            for (int i = 0; i < dense.length; i++) {
                dense[i] = (((codes[i / 2] >> ((i & 1) * 4)) & 15) - 8) * Float.float16ToFloat(d[i / 32]);
            }
            Int8Weight w = (Int8Weight) new ScalarKernels().int4Weight(codes, d, rows, cols);
            check(w, dense, rows, cols);
        }
    }

    private void check(Int8Weight w, float[] dense, int rows, int cols) {
        {
            for (int i = 0; i < dense.length; i++) {
                assertEquals(dense[i], w.get(i / cols, i % cols));
            }
            float[] row = new float[cols];
            w.row(5, row, 0);
            assertArrayEquals(java.util.Arrays.copyOfRange(dense, 5 * cols, 6 * cols), row, "row() = dequantized bits");
            for (int N : new int[] {1, 3, Int8Weight.GEMM_MIN_N + 1}) {
                float[] x = new float[N * cols], bias = new float[rows];
                for (int i = 0; i < x.length; i++) {
                    x[i] = (float) rnd.nextGaussian();
                }
                for (int r = 0; r < rows; r++) {
                    bias[r] = (float) rnd.nextGaussian();
                }
                float[] got = new float[N * rows], pooled = new float[N * rows];
                w.matmulInto(got, x, bias, N, cols, rows);
                try (Parallel par = new Parallel(2)) {
                    w.matmulInto(par, pooled, x, bias, N, cols, rows);
                }
                assertArrayEquals(got, pooled, "pool vs one thread");
                if (N >= Int8Weight.GEMM_MIN_N) {
                    // the batch path is the SGEMM of the dequantized matrix, bit for bit
                    float[] sg = new float[N * rows];
                    bitnet.kernels.cpu.gemm.Sgemm.gemm(
                            null,
                            N,
                            rows,
                            cols,
                            x,
                            0,
                            cols,
                            false,
                            bitnet.kernels.cpu.gemm.PackB.transposed(dense, cols),
                            sg,
                            rows,
                            true,
                            bias);
                    assertArrayEquals(sg, got, "batch path = SGEMM of the dequantized matrix");
                }
                for (int n = 0; n < N; n++) {
                    for (int r = 0; r < rows; r++) {
                        double acc = bias[r], mag = Math.abs(bias[r]);
                        for (int c = 0; c < cols; c++) {
                            acc += (double) x[n * cols + c] * dense[r * cols + c];
                            mag += Math.abs((double) x[n * cols + c] * dense[r * cols + c]);
                        }
                        assertEquals(acc, got[n * rows + r], 1e-5 * (mag + 1), "forward C=" + cols);
                    }
                }
                float[] dout = new float[N * rows], dinp = new float[N * cols];
                for (int i = 0; i < dout.length; i++) {
                    dout[i] = (float) rnd.nextGaussian();
                }
                w.matmulBackwardInput(dinp, dout, N, cols, rows);
                for (int n = 0; n < N; n++) {
                    for (int c = 0; c < cols; c++) {
                        double acc = 0, mag = 0;
                        for (int r = 0; r < rows; r++) {
                            acc += (double) dout[n * rows + r] * dense[r * cols + c];
                            mag += Math.abs((double) dout[n * rows + r] * dense[r * cols + c]);
                        }
                        assertEquals(acc, dinp[n * cols + c], 1e-5 * (mag + 1), "backward C=" + cols);
                    }
                }
            }
        }
    }

    @Test
    void embeddingLookupThroughTheVectorBackend() {
        int rows = 11, cols = 40;
        byte[] q = new byte[rows * cols];
        rnd.nextBytes(q);
        float[] s = new float[rows];
        java.util.Arrays.fill(s, 0.5f);
        Int8Weight w = make(q, s, rows, cols);
        try (VectorKernels vk = new VectorKernels(2)) {
            int[] ids = {3, 0, 10};
            Buf out = vk.alloc(3L * cols);
            vk.embedding(out, ids, w, null, 1, 3, cols, 0);
            float[] o = vk.download(out);
            for (int n = 0; n < 3; n++) {
                for (int c = 0; c < cols; c++) {
                    assertEquals(0.5f * q[ids[n] * cols + c], o[n * cols + c]);
                }
            }
        }
    }

    @Test
    void rejectsMismatchedParts() {
        assertThrows(IllegalArgumentException.class, () -> make(new byte[6], new float[2], 2, 2));
        assertThrows(IllegalArgumentException.class, () -> make(new byte[4], new float[3], 2, 2));
        Int8Weight w = make(new byte[4], new float[2], 2, 2);
        assertThrows(IllegalArgumentException.class, () -> w.matmulInto(new float[2], new float[3], null, 1, 3, 2));
    }
}
