package bitnet.io.gguf;

/**
 * ggml's block layouts for the types the GGUF export writes, encoding from this project's stored
 * forms (ternary codes -1/0/+1 with a row scale; per-row int8 with a row scale; floats) and
 * decoding back to FP32 (for the reader and tests). Row-major tensors of rows x cols where cols is
 * the GGUF ne[0]; blocks never cross rows.
 *
 * <ul>
 * <li>TQ2_0 (256 weights, 66 bytes): qs[64] then fp16 d; weight 128h+32n+m of a block is code
 *     t+1 in bits 2n..2n+1 of qs[32h+m].</li>
 * <li>TQ1_0 (256 weights, 54 bytes): qs[48] then qh[4] then fp16 d. qs[0..31] hold weights
 *     m+32n (n=0..4), qs[32..47] weights 160+m+16n, qh[j] weights 240+j+4n (n=0..3); a byte holds
 *     the base-3 number of its trits (first weight most significant; qh with a fifth trit 0) as
 *     ceil(v*256/243), read back by trit n = ((byte*3^n mod 256)*3) >> 8.</li>
 * <li>Q4_0 (32 weights, 18 bytes): fp16 d then qs[16]; weight j in the low nibble of qs[j],
 *     weight j+16 in the high nibble; value d*(nibble-8). Ternary rows are exact with d = scale.</li>
 * <li>Q8_0 (32 weights, 34 bytes): fp16 d then 32 int8; value d*q.</li>
 * <li>Q2_0 (64 weights, 18 bytes; type 42, upstream ggml since 2026, also in the prebuilt ggml of
 *     node-llama-cpp 3.22.1): fp16 d then qs[16]; weight j is code t+1 in bits 2(j%4)..2(j%4)+1 of
 *     qs[j/4], value d*(code-1) (ggml-common.h block_q2_0, ggml-quants.c dequantize_row_q2_0 of
 *     ggml-org/llama.cpp 01243c5; code 3 = +2d is legal there and decoded, never written here).</li>
 * </ul>
 * Quantizing floats to these types is not done here: the export only re-encodes weights that are
 * already ternary, int8 or int4 (Q4_0 blocks), so the only rounding is a scale's to fp16 (none for int4).
 */
public final class GgufBlocks {
    private GgufBlocks() {}

    /** Encodes ternary codes (rows*cols, row-major) with one scale per row (or one for all) as type. */
    public static byte[] encodeTernary(GgmlType type, byte[] codes, float[] scales, int rows, int cols) {
        if ((long) rows * cols != codes.length || (scales.length != rows && scales.length != 1)) {
            throw new IllegalArgumentException(
                    codes.length + " codes, " + scales.length + " scales for (" + rows + ", " + cols + ")");
        }
        int bs = type.blockSize();
        if (cols % bs != 0) {
            throw new IllegalArgumentException(type + " needs rows (ne0 = " + cols + ") to be a multiple of " + bs);
        }
        int perRow = Math.toIntExact(type.rowBytes(cols));
        byte[] out = new byte[Math.multiplyExact(perRow, rows)];
        for (int r = 0; r < rows; r++) {
            short d = Float.floatToFloat16(scales[scales.length == 1 ? 0 : r]);
            for (int b = 0; b < cols / bs; b++) {
                int src = r * cols + b * bs;
                int dst = r * perRow + b * type.blockBytes();
                switch (type) {
                    case TQ2_0 -> tq2(codes, src, out, dst, d);
                    case TQ1_0 -> tq1(codes, src, out, dst, d);
                    case Q4_0 -> q4(codes, src, out, dst, d);
                    case Q2_0 -> q2(codes, src, out, dst, d);
                    default -> throw new IllegalArgumentException(type + " does not hold ternary weights");
                }
            }
        }
        return out;
    }

    /**
     * Encodes int4 codes (cols/2 bytes a row, element 2i in the low nibble of byte i, code q for
     * (q - 8) * d) with the F16 bits of one d per 32 elements as Q4_0: the same values, bit for bit.
     */
    public static byte[] encodeQ4_0(byte[] codes, short[] scale16, int rows, int cols) {
        if (cols % 32 != 0 || (long) rows * cols != 2L * codes.length || (long) rows * cols != 32L * scale16.length) {
            throw new IllegalArgumentException("Q4_0: " + codes.length + " code bytes, " + scale16.length
                    + " scales for (" + rows + ", " + cols + ")");
        }
        int blocks = rows * (cols / 32);
        byte[] out = new byte[Math.multiplyExact(blocks, 18)];
        for (int b = 0; b < blocks; b++) {
            int o = b * 18, src = b * 16; // a block's 32 codes are bytes [16b, 16b + 16)
            out[o] = (byte) scale16[b];
            out[o + 1] = (byte) (scale16[b] >> 8);
            for (int j = 0; j < 16; j++) {
                int lo = nibble(codes, 2 * src + j), hi = nibble(codes, 2 * src + j + 16);
                out[o + 2 + j] = (byte) (lo | hi << 4);
            }
        }
        return out;
    }

    private static int nibble(byte[] codes, int i) {
        return (codes[i >> 1] >> ((i & 1) * 4)) & 15;
    }

    /** Encodes per-row int8 values (rows*cols) with their row scales as Q8_0. */
    public static byte[] encodeQ8_0(byte[] q, float[] scales, int rows, int cols) {
        if ((long) rows * cols != q.length || scales.length != rows || cols % 32 != 0) {
            throw new IllegalArgumentException(
                    "Q8_0: " + q.length + " values, " + scales.length + " scales for (" + rows + ", " + cols + ")");
        }
        int perRow = cols / 32 * 34;
        byte[] out = new byte[Math.multiplyExact(perRow, rows)];
        for (int r = 0; r < rows; r++) {
            short d = Float.floatToFloat16(scales[r]);
            for (int b = 0; b < cols / 32; b++) {
                int dst = r * perRow + b * 34;
                putHalf(out, dst, d);
                System.arraycopy(q, r * cols + b * 32, out, dst + 2, 32);
            }
        }
        return out;
    }

    private static int code(byte t) {
        if (t < -1 || t > 1) {
            throw new IllegalArgumentException("ternary value " + t);
        }
        return t + 1;
    }

    private static void tq2(byte[] c, int src, byte[] out, int dst, short d) {
        for (int h = 0; h < 2; h++) {
            for (int m = 0; m < 32; m++) {
                int v = 0;
                for (int n = 0; n < 4; n++) {
                    v |= code(c[src + 128 * h + 32 * n + m]) << (2 * n);
                }
                out[dst + 32 * h + m] = (byte) v;
            }
        }
        putHalf(out, dst + 64, d);
    }

    private static void tq1(byte[] c, int src, byte[] out, int dst, short d) {
        for (int m = 0; m < 32; m++) {
            int v = 0;
            for (int n = 0; n < 5; n++) {
                v = v * 3 + code(c[src + m + 32 * n]);
            }
            out[dst + m] = packTrits(v);
        }
        for (int m = 0; m < 16; m++) {
            int v = 0;
            for (int n = 0; n < 5; n++) {
                v = v * 3 + code(c[src + 160 + m + 16 * n]);
            }
            out[dst + 32 + m] = packTrits(v);
        }
        for (int j = 0; j < 4; j++) {
            int v = 0;
            for (int n = 0; n < 4; n++) {
                v = v * 3 + code(c[src + 240 + j + 4 * n]);
            }
            out[dst + 48 + j] = packTrits(v * 3);
        }
        putHalf(out, dst + 52, d);
    }

    /** ggml's fixed-point form of a 5-trit number v < 243: ceil(v * 256 / 243). */
    private static byte packTrits(int v) {
        return (byte) ((v * 256 + 242) / 243);
    }

    private static void q4(byte[] c, int src, byte[] out, int dst, short d) {
        putHalf(out, dst, d);
        for (int j = 0; j < 16; j++) {
            int lo = c[src + j] + 8, hi = c[src + j + 16] + 8;
            code(c[src + j]);
            code(c[src + j + 16]);
            out[dst + 2 + j] = (byte) (lo | (hi << 4));
        }
    }

    private static void q2(byte[] c, int src, byte[] out, int dst, short d) {
        putHalf(out, dst, d);
        for (int j = 0; j < 16; j++) {
            int v = 0;
            for (int k = 0; k < 4; k++) {
                v |= code(c[src + 4 * j + k]) << (2 * k);
            }
            out[dst + 2 + j] = (byte) v;
        }
    }

    static void putHalf(byte[] b, int at, short h) {
        b[at] = (byte) h;
        b[at + 1] = (byte) (h >> 8);
    }

    static float half(byte[] b, int at) {
        return Float.float16ToFloat((short) ((b[at] & 0xff) | (b[at + 1] << 8)));
    }

    /** The trit (0, 1, 2) at position n (0 = most significant) of a TQ1_0 byte. */
    static int trit(int b, int n) {
        int pow = 1;
        for (int i = 0; i < n; i++) {
            pow *= 3;
        }
        return (((b * pow) & 0xff) * 3) >> 8;
    }

    /** Decodes n weights of type starting at byte 0 of data (n a multiple of the block size) to FP32. */
    public static float[] decode(GgmlType type, byte[] data, int n) {
        float[] out = new float[n];
        int bs = type.blockSize();
        if (n % bs != 0 || (long) n / bs * type.blockBytes() > data.length) {
            throw new IllegalArgumentException(type + ": " + data.length + " bytes cannot hold " + n + " weights");
        }
        for (int blk = 0; blk < n / bs; blk++) {
            int at = blk * type.blockBytes();
            int o = blk * bs;
            switch (type) {
                case F32 ->
                    out[o] = Float.intBitsToFloat((data[at] & 0xff)
                            | (data[at + 1] & 0xff) << 8
                            | (data[at + 2] & 0xff) << 16
                            | (data[at + 3] & 0xff) << 24);
                case F16 -> out[o] = half(data, at);
                case BF16 -> out[o] = Float.intBitsToFloat(((data[at] & 0xff) | (data[at + 1] & 0xff) << 8) << 16);
                case Q8_0 -> {
                    float d = half(data, at);
                    for (int j = 0; j < 32; j++) {
                        out[o + j] = d * data[at + 2 + j];
                    }
                }
                case Q4_0 -> {
                    float d = half(data, at);
                    for (int j = 0; j < 16; j++) {
                        int b = data[at + 2 + j] & 0xff;
                        out[o + j] = d * ((b & 15) - 8);
                        out[o + j + 16] = d * ((b >> 4) - 8);
                    }
                }
                case Q2_0 -> {
                    float d = half(data, at);
                    for (int j = 0; j < 64; j++) {
                        out[o + j] = d * (((data[at + 2 + j / 4] >> (2 * (j % 4))) & 3) - 1);
                    }
                }
                case TQ2_0 -> {
                    float d = half(data, at + 64);
                    for (int h = 0; h < 2; h++) {
                        for (int m = 0; m < 32; m++) {
                            int b = data[at + 32 * h + m] & 0xff;
                            for (int k = 0; k < 4; k++) {
                                out[o + 128 * h + 32 * k + m] = d * (((b >> (2 * k)) & 3) - 1);
                            }
                        }
                    }
                }
                case TQ1_0 -> {
                    float d = half(data, at + 52);
                    for (int m = 0; m < 32; m++) {
                        for (int k = 0; k < 5; k++) {
                            out[o + m + 32 * k] = d * (trit(data[at + m] & 0xff, k) - 1);
                        }
                    }
                    for (int m = 0; m < 16; m++) {
                        for (int k = 0; k < 5; k++) {
                            out[o + 160 + m + 16 * k] = d * (trit(data[at + 32 + m] & 0xff, k) - 1);
                        }
                    }
                    for (int j = 0; j < 4; j++) {
                        for (int k = 0; k < 4; k++) {
                            out[o + 240 + j + 4 * k] = d * (trit(data[at + 48 + j] & 0xff, k) - 1);
                        }
                    }
                }
            }
        }
        return out;
    }
}
