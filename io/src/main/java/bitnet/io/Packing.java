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
