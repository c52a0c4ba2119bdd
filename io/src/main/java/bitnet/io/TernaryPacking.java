package bitnet.io;

/**
 * Bit packing of ternary codes {-1, 0, +1} (one signed byte per weight, row-major) into bytes,
 * row by row so a kernel can start every row on a byte boundary.
 *
 * <p>2-bit: ceil(cols/4) bytes per row; weight j of a row sits in byte j/4 at bits 2*(j%4)..2*(j%4)+1
 * as code q+1 (0 = -1, 1 = 0, 2 = +1; 3 is invalid). Base-3: ceil(cols/5) bytes per row; a byte is
 * sum over i<5 of (q_i+1)*3^i (at most 242). Padding weights are 0 (code 1).
 *
 * <p>This is only the bit layout: it knows nothing of scales or files ({@link bitnet.io.packed.PackedModelFormat}).
 */
public final class TernaryPacking {
    private TernaryPacking() {}

    public static long packedBytes(Packing p, int rows, int cols) {
        checkShape(rows, cols);
        return (long) rows * p.bytesPerRow(cols);
    }

    public static byte[] pack(Packing p, byte[] q, int rows, int cols) {
        return p == Packing.TWO_BIT ? pack2bit(q, rows, cols) : packBase3(q, rows, cols);
    }

    public static byte[] unpack(Packing p, byte[] packed, int rows, int cols) {
        return p == Packing.TWO_BIT ? unpack2bit(packed, rows, cols) : unpackBase3(packed, rows, cols);
    }

    public static byte[] pack2bit(byte[] q, int rows, int cols) {
        checkInput(q, rows, cols);
        int bpr = Packing.TWO_BIT.bytesPerRow(cols);
        byte[] out = new byte[Math.toIntExact(packedBytes(Packing.TWO_BIT, rows, cols))];
        // padding lanes must decode as 0, so start every byte at code 1 in all four lanes
        java.util.Arrays.fill(out, (byte) 0x55);
        for (int r = 0; r < rows; r++) {
            int base = r * cols;
            for (int j = 0; j < cols; j++) {
                int code = code(q[base + j], base + j);
                int at = r * bpr + (j >> 2);
                int sh = 2 * (j & 3);
                out[at] = (byte) ((out[at] & ~(3 << sh)) | (code << sh));
            }
        }
        return out;
    }

    public static byte[] unpack2bit(byte[] packed, int rows, int cols) {
        checkShape(rows, cols);
        int bpr = Packing.TWO_BIT.bytesPerRow(cols);
        checkPacked(packed, (long) rows * bpr);
        byte[] q = new byte[Math.toIntExact((long) rows * cols)];
        for (int r = 0; r < rows; r++) {
            for (int j = 0; j < cols; j++) {
                int b = packed[r * bpr + (j >> 2)] & 0xff;
                int code = (b >>> (2 * (j & 3))) & 3;
                if (code == 3) {
                    throw new IllegalArgumentException("invalid 2-bit code 3 at row " + r + ", column " + j);
                }
                q[r * cols + j] = (byte) (code - 1);
            }
        }
        return q;
    }

    public static byte[] packBase3(byte[] q, int rows, int cols) {
        checkInput(q, rows, cols);
        int bpr = Packing.BASE3.bytesPerRow(cols);
        byte[] out = new byte[Math.toIntExact(packedBytes(Packing.BASE3, rows, cols))];
        for (int r = 0; r < rows; r++) {
            int base = r * cols;
            for (int k = 0; k < bpr; k++) {
                int v = 0;
                // Horner from the highest digit down: digit i carries weight 3^i
                for (int i = 4; i >= 0; i--) {
                    int j = k * 5 + i;
                    v = v * 3 + (j < cols ? code(q[base + j], base + j) : 1);
                }
                out[r * bpr + k] = (byte) v;
            }
        }
        return out;
    }

    public static byte[] unpackBase3(byte[] packed, int rows, int cols) {
        checkShape(rows, cols);
        int bpr = Packing.BASE3.bytesPerRow(cols);
        checkPacked(packed, (long) rows * bpr);
        byte[] q = new byte[Math.toIntExact((long) rows * cols)];
        for (int r = 0; r < rows; r++) {
            for (int k = 0; k < bpr; k++) {
                int v = packed[r * bpr + k] & 0xff;
                if (v > 242) {
                    throw new IllegalArgumentException("invalid base-3 byte " + v + " at row " + r + ", byte " + k);
                }
                for (int i = 0; i < 5; i++) {
                    int j = k * 5 + i;
                    if (j < cols) {
                        q[r * cols + j] = (byte) (v % 3 - 1);
                    }
                    v /= 3;
                }
            }
        }
        return q;
    }

    private static int code(byte v, int at) {
        if (v < -1 || v > 1) {
            throw new IllegalArgumentException("ternary value " + v + " at element " + at + " is not -1, 0 or +1");
        }
        return v + 1;
    }

    private static void checkShape(int rows, int cols) {
        if (rows < 0 || cols < 0) {
            throw new IllegalArgumentException("bad shape (" + rows + ", " + cols + ")");
        }
    }

    private static void checkInput(byte[] q, int rows, int cols) {
        checkShape(rows, cols);
        if (q.length != (long) rows * cols) {
            throw new IllegalArgumentException(q.length + " values for (" + rows + ", " + cols + ")");
        }
    }

    private static void checkPacked(byte[] packed, long expected) {
        if (packed.length != expected) {
            throw new IllegalArgumentException(packed.length + " packed bytes, expected " + expected);
        }
    }
}
