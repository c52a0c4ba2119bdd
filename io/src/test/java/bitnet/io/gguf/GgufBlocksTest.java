package bitnet.io.gguf;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.Random;
import org.junit.jupiter.api.Test;

/** The block layouts against their definitions (issue 12, ggml-common.h), and decode(encode) = scale * code. */
class GgufBlocksTest {
    private static byte[] codes(int n, long seed) {
        Random r = new Random(seed);
        byte[] c = new byte[n];
        for (int i = 0; i < n; i++) {
            c[i] = (byte) (r.nextInt(3) - 1);
        }
        return c;
    }

    @Test
    void tq2_0LayoutIsCodeOfWeight128hPlus32nPlusMInBits2nOfByte32hPlusM() {
        byte[] c = codes(256, 1);
        byte[] b = GgufBlocks.encodeTernary(GgmlType.TQ2_0, c, new float[] {0.5f}, 1, 256);
        assertEquals(66, b.length);
        for (int h = 0; h < 2; h++) {
            for (int n = 0; n < 4; n++) {
                for (int m = 0; m < 32; m++) {
                    int code = (b[32 * h + m] >> (2 * n)) & 3;
                    assertEquals(c[128 * h + 32 * n + m] + 1, code, "weight " + (128 * h + 32 * n + m));
                }
            }
        }
        assertEquals(Float.floatToFloat16(0.5f), (short) ((b[64] & 0xff) | b[65] << 8)); // fp16 d last
    }

    @Test
    void tq1_0BytesAreCeilOfBase3Times256Over243() {
        byte[] c = new byte[256]; // all zero codes (trit 1) except a few
        c[0] = 1; // qs[0], most significant trit: value 2*81 + 1*27 + 1*9 + 1*3 + 1 = 202
        c[160] = -1; // qs[32], most significant trit 0: 0*81 + 40 = 40
        c[240] = 1; // qh[0], 4 trits then a 0: (2*27 + 9 + 3 + 1)*3 = 201
        byte[] b = GgufBlocks.encodeTernary(GgmlType.TQ1_0, c, new float[] {2f}, 1, 256);
        assertEquals(54, b.length);
        assertEquals((202 * 256 + 242) / 243, b[0] & 0xff);
        assertEquals((40 * 256 + 242) / 243, b[32] & 0xff);
        assertEquals((201 * 256 + 242) / 243, b[48] & 0xff);
        assertEquals((121 * 256 + 242) / 243, b[1] & 0xff); // 11111 in base 3 = 121: all zeros
        assertEquals(Float.floatToFloat16(2f), (short) ((b[52] & 0xff) | b[53] << 8));
    }

    @Test
    void q4_0HoldsTernaryRowsExactlyWithNibbles7To9() {
        byte[] c = codes(64, 2);
        byte[] b = GgufBlocks.encodeTernary(GgmlType.Q4_0, c, new float[] {0.25f, 0.125f}, 2, 32);
        assertEquals(36, b.length);
        for (int r = 0; r < 2; r++) {
            for (int j = 0; j < 16; j++) {
                int by = b[r * 18 + 2 + j] & 0xff;
                assertEquals(c[r * 32 + j] + 8, by & 15);
                assertEquals(c[r * 32 + j + 16] + 8, by >> 4);
            }
        }
    }

    @Test
    void q2_0IsHalfScaleThenCodeOfWeightJInBits2jMod4OfByteJOver4() {
        byte[] c = codes(128, 5);
        c[0] = -1; // weights 0..3 = -1, 0, +1, 0: codes 0, 1, 2, 1 -> 0b01_10_01_00 (ggml-quants.c dequantize_row_q2_0)
        c[1] = 0;
        c[2] = 1;
        c[3] = 0;
        byte[] b = GgufBlocks.encodeTernary(GgmlType.Q2_0, c, new float[] {0.75f}, 1, 128);
        assertEquals(36, b.length); // 2 blocks of 18 bytes: 2.25 bits a weight
        assertEquals(0x64, b[2] & 0xff);
        for (int blk = 0; blk < 2; blk++) {
            assertEquals(Float.floatToFloat16(0.75f), (short) ((b[18 * blk] & 0xff) | b[18 * blk + 1] << 8)); // d first
            for (int j = 0; j < 64; j++) {
                int code = (b[18 * blk + 2 + j / 4] >> (2 * (j % 4))) & 3;
                assertEquals(c[64 * blk + j] + 1, code, "weight " + (64 * blk + j));
            }
        }
    }

    @Test
    void q2_0DecodesCode3AsPlusTwoScalesAsUpstreamDoes() {
        byte[] b = new byte[18];
        GgufBlocks.putHalf(b, 0, Float.floatToFloat16(0.5f));
        b[2] = (byte) 0b11_10_01_00; // weights 0..3: codes 0, 1, 2, 3
        float[] w = GgufBlocks.decode(GgmlType.Q2_0, b, 64);
        assertArrayEquals(new float[] {-0.5f, 0f, 0.5f, 1f}, java.util.Arrays.copyOf(w, 4));
        assertEquals(-0.5f, w[4]); // code 0 everywhere else
    }

    @Test
    void q8_0IsHalfScaleThen32Int8() {
        byte[] q = new byte[64];
        for (int i = 0; i < 64; i++) {
            q[i] = (byte) (i * 7 - 127);
        }
        byte[] b = GgufBlocks.encodeQ8_0(q, new float[] {0.01f}, 1, 64);
        assertEquals(68, b.length);
        assertEquals(Float.floatToFloat16(0.01f), (short) ((b[34] & 0xff) | b[35] << 8));
        for (int i = 0; i < 32; i++) {
            assertEquals(q[32 + i], b[36 + i]);
        }
    }

    @Test
    void everyTernaryTypeDecodesToHalfScaleTimesCode() {
        int rows = 3, cols = 512;
        byte[] c = codes(rows * cols, 3);
        float[] s = {0.0371f, 1.5f, 0f};
        for (GgmlType t : new GgmlType[] {GgmlType.TQ2_0, GgmlType.TQ1_0, GgmlType.Q4_0, GgmlType.Q2_0}) {
            byte[] b = GgufBlocks.encodeTernary(t, c, s, rows, cols);
            assertEquals(t.rowBytes(cols) * rows, b.length);
            float[] w = GgufBlocks.decode(t, b, rows * cols);
            float[] want = new float[w.length];
            for (int i = 0; i < w.length; i++) {
                want[i] = Float.float16ToFloat(Float.floatToFloat16(s[i / cols])) * c[i];
            }
            assertArrayEquals(want, w, t.name());
        }
    }

    @Test
    void q8_0DecodesToHalfScaleTimesValue() {
        byte[] q = new byte[96];
        new Random(4).nextBytes(q);
        for (int i = 0; i < q.length; i++) {
            q[i] = (byte) Math.max(-127, q[i]);
        }
        float[] s = {0.02f, 0.5f, 3f};
        float[] w = GgufBlocks.decode(GgmlType.Q8_0, GgufBlocks.encodeQ8_0(q, s, 3, 32), 96);
        for (int i = 0; i < 96; i++) {
            assertEquals(Float.float16ToFloat(Float.floatToFloat16(s[i / 32])) * q[i], w[i]);
        }
    }

    @Test
    void refusesRowsThatAreNotWholeBlocksAndNonTernaryCodes() {
        assertThrows(
                IllegalArgumentException.class,
                () -> GgufBlocks.encodeTernary(GgmlType.TQ2_0, new byte[128], new float[] {1}, 1, 128));
        assertThrows(
                IllegalArgumentException.class,
                () -> GgufBlocks.encodeTernary(GgmlType.Q4_0, new byte[48], new float[] {1}, 1, 48));
        assertThrows(
                IllegalArgumentException.class,
                () -> GgufBlocks.encodeTernary(GgmlType.Q2_0, new byte[96], new float[] {1}, 1, 96));
        byte[] bad = new byte[32];
        bad[5] = 2;
        assertThrows(
                IllegalArgumentException.class,
                () -> GgufBlocks.encodeTernary(GgmlType.Q4_0, bad, new float[] {1}, 1, 32));
    }
}
