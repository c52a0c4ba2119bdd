package bitnet.io.gguf;

/**
 * The ggml tensor types this project writes and reads in GGUF files, with ggml's type ids, block
 * sizes (weights per block) and block byte sizes (ggml-common.h). Only sizes and ids: the block
 * layouts are in {@link GgufBlocks}.
 */
public enum GgmlType {
    F32(0, 1, 4),
    F16(1, 1, 2),
    Q4_0(2, 32, 18), // fp16 d, 16 bytes of nibbles
    Q8_0(8, 32, 34), // fp16 d, 32 int8
    BF16(30, 1, 2),
    TQ1_0(34, 256, 54), // 48 bytes base-3 (5 per byte), 4 bytes (4 per byte), fp16 d
    TQ2_0(35, 256, 66), // 64 bytes of 2-bit codes, fp16 d
    Q2_0(42, 64, 18); // fp16 d, 16 bytes of 2-bit codes (llama.cpp builds of 2026 on)

    private final int id;
    private final int blockSize;
    private final int blockBytes;

    GgmlType(int id, int blockSize, int blockBytes) {
        this.id = id;
        this.blockSize = blockSize;
        this.blockBytes = blockBytes;
    }

    public int id() {
        return id;
    }

    /** Weights per block (1 for plain floats). */
    public int blockSize() {
        return blockSize;
    }

    /** Bytes per block. */
    public int blockBytes() {
        return blockBytes;
    }

    /** Bytes of a row of n weights; n must be a multiple of the block size. */
    public long rowBytes(long n) {
        if (n % blockSize != 0) {
            throw new IllegalArgumentException(this + ": row of " + n + " is not a multiple of " + blockSize);
        }
        return n / blockSize * blockBytes;
    }

    /** The type of a ggml id, or null when this project does not know it. */
    public static GgmlType ofId(long id) {
        for (GgmlType t : values()) {
            if (t.id == id) {
                return t;
            }
        }
        return null;
    }

    /** The name llama.cpp prints (lower case). */
    public String ggmlName() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
