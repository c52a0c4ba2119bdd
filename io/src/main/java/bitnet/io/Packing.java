package bitnet.io;

/**
 * The two ternary bit packings ({@link TernaryPacking} has the layouts); {@link #id} is the name
 * written into file metadata ("2bit", "base3"). Only names and sizes, no packing code. A dtype like
 * {@link DType}: the kernels decode it, the packed file format ({@code bitnet.io.packed}) names it,
 * and neither depends on the other.
 */
public enum Packing {
    TWO_BIT("2bit", 4),
    BASE3("base3", 5);

    private final String id;
    private final int perByte;

    Packing(String id, int perByte) {
        this.id = id;
        this.perByte = perByte;
    }

    public String id() {
        return id;
    }

    /** Weights held by one byte. */
    public int perByte() {
        return perByte;
    }

    /** Bytes one row of cols weights takes. */
    public int bytesPerRow(int cols) {
        return (cols + perByte - 1) / perByte;
    }

    private static final java.lang.foreign.ValueLayout.OfLong LE_LONG =
            java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN);

    /** Whether a byte of this packing is valid: no 2-bit code 3, no base-3 byte above 242. */
    public boolean validByte(int b) {
        return this == TWO_BIT ? ((b & (b >>> 1)) & 0x55) == 0 : (b & 0xff) <= 242;
    }

    /**
     * The offset of the first invalid byte of codes ({@link #validByte}), or -1. Eight bytes are
     * tested at a time (byte by byte this took ~1 s per 0.2 GB of codes at every load); a word
     * that fails is then searched byte by byte.
     */
    public long firstInvalid(java.lang.foreign.MemorySegment codes) {
        long n = codes.byteSize(), words = n / 8, w = 0;
        for (; w < words; w++) {
            long x = codes.get(LE_LONG, w * 8);
            // 2-bit: a pair with both bits set (the shift's bit carried in from the next byte
            // lands on bit 7, masked off); base 3: b >= 243 <=> b >= 128 and (b & 0x7f) + 13 >= 128,
            // with no carry between bytes
            long bad = this == TWO_BIT
                    ? x & (x >>> 1) & 0x5555555555555555L
                    : ((x & 0x7F7F7F7F7F7F7F7FL) + 0x0D0D0D0D0D0D0D0DL) & x & 0x8080808080808080L;
            if (bad != 0) {
                break;
            }
        }
        for (long i = w * 8; i < n; i++) {
            if (!validByte(codes.get(java.lang.foreign.ValueLayout.JAVA_BYTE, i) & 0xff)) {
                return i;
            }
        }
        return -1;
    }

    /** Parses "2bit" / "base3"; IllegalArgumentException listing both otherwise. */
    public static Packing parse(String s) {
        for (Packing p : values()) {
            if (p.id.equals(s)) {
                return p;
            }
        }
        throw new IllegalArgumentException("unknown packing '" + s + "' (valid: 2bit, base3)");
    }
}
