package bitnet.io;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Element types of stored tensors, with their safetensors names and sizes.
 * Compute is always FP32; BF16 and F16 are storage formats converted at the point of use.
 */
public enum DType {
    F32("F32", 4),
    F16("F16", 2),
    BF16("BF16", 2),
    F64("F64", 8),
    I8("I8", 1),
    U8("U8", 1),
    I16("I16", 2),
    I32("I32", 4),
    I64("I64", 8),
    BOOL("BOOL", 1);

    static final ValueLayout.OfFloat LE_F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfShort LE_I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfInt LE_I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfLong LE_I64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfDouble LE_F64 = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final String stName;
    private final int size;

    DType(String stName, int size) {
        this.stName = stName;
        this.size = size;
    }

    /** Bytes per element. */
    public int size() {
        return size;
    }

    /** The name safetensors uses in its header. */
    public String safetensorsName() {
        return stName;
    }

    public boolean isFloat() {
        return this == F32 || this == F16 || this == BF16 || this == F64;
    }

    /** Parses a safetensors dtype name; null when unknown (callers raise the file-specific error). */
    public static DType fromSafetensors(String name) {
        for (DType d : values()) {
            if (d.stName.equals(name)) {
                return d;
            }
        }
        return null;
    }

    public static float bf16ToFloat(short bits) {
        return Float.intBitsToFloat((bits & 0xffff) << 16);
    }

    /** Round-to-nearest-even FP32 to BF16, as torch does (NaN stays NaN). */
    public static short floatToBf16(float f) {
        int x = Float.floatToRawIntBits(f);
        if ((x & 0x7fffffff) > 0x7f800000) {
            return (short) ((x >>> 16) | 0x40);
        }
        int rounding = 0x7fff + ((x >>> 16) & 1);
        return (short) ((x + rounding) >>> 16);
    }

    /** Reads element i (an element index, not a byte offset) of a little-endian segment as FP32. */
    public float getFloat(MemorySegment seg, long i) {
        return switch (this) {
            case F32 -> seg.get(LE_F32, i * 4);
            case BF16 -> bf16ToFloat(seg.get(LE_I16, i * 2));
            case F16 -> Float.float16ToFloat(seg.get(LE_I16, i * 2));
            case F64 -> (float) seg.get(LE_F64, i * 8);
            case I8 -> seg.get(ValueLayout.JAVA_BYTE, i);
            case U8, BOOL -> seg.get(ValueLayout.JAVA_BYTE, i) & 0xff;
            case I16 -> seg.get(LE_I16, i * 2);
            case I32 -> seg.get(LE_I32, i * 4);
            case I64 -> seg.get(LE_I64, i * 8);
        };
    }

    /** Reads element i as a long (integer types; floats are truncated). */
    public long getLong(MemorySegment seg, long i) {
        return switch (this) {
            case I64 -> seg.get(LE_I64, i * 8);
            case I32 -> seg.get(LE_I32, i * 4);
            case I16 -> seg.get(LE_I16, i * 2);
            case I8 -> seg.get(ValueLayout.JAVA_BYTE, i);
            case U8, BOOL -> seg.get(ValueLayout.JAVA_BYTE, i) & 0xff;
            default -> (long) getFloat(seg, i);
        };
    }
}
