package bitnet.io;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * A named, typed, shaped view of tensor bytes (little-endian, row-major). The bytes are usually a
 * slice of a memory-mapped file and are never copied by this class except by the explicit
 * {@link #toFloatArray()} / {@link #ofFloats} helpers.
 */
public record TensorData(String name, DType dtype, long[] shape, MemorySegment data) {

    public TensorData {
        shape = shape.clone();
        for (long d : shape) {
            if (d < 0) {
                throw new IllegalArgumentException(name + ": negative dimension in " + Arrays.toString(shape));
            }
        }
        long expected = Math.multiplyExact(numel(shape), dtype.size());
        if (data.byteSize() != expected) {
            throw new IllegalArgumentException(
                    name + ": " + data.byteSize() + " bytes for " + dtype + Arrays.toString(shape));
        }
    }

    public static long numel(long[] shape) {
        long n = 1;
        for (long d : shape) {
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    public long numel() {
        return numel(shape);
    }

    public int rank() {
        return shape.length;
    }

    public int dim(int i) {
        return Math.toIntExact(shape[i < 0 ? shape.length + i : i]);
    }

    public long[] shape() {
        return shape.clone();
    }

    public float getFloat(long i) {
        return dtype.getFloat(data, i);
    }

    private static final java.lang.foreign.ValueLayout.OfLong LE_LONG =
            java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN);

    /**
     * How many elements are NaN or ±Inf once read as FP32 (what every reader computes in); 0 for
     * integer dtypes. F32, F16 and BF16 are checked on their exponent bits, eight bytes at a time
     * (the per-element {@link #getFloat} took seconds on a 0.5 G-parameter model at load); F64 goes
     * element by element, since a finite double can overflow FP32.
     */
    public long countNonFinite() {
        return switch (dtype) {
            case F32 -> countExponentAllOnes(0x7F800000_7F800000L, 32);
            case BF16 -> countExponentAllOnes(0x7F807F80_7F807F80L, 16);
            case F16 -> countExponentAllOnes(0x7C007C00_7C007C00L, 16);
            case F64 -> {
                long c = 0;
                for (long i = 0, n = numel(); i < n; i++) {
                    c += Float.isFinite(getFloat(i)) ? 0 : 1;
                }
                yield c;
            }
            default -> 0;
        };
    }

    /** Elements whose bits under mask (the exponent field, repeated per lane of width bits) are all ones. */
    private long countExponentAllOnes(long mask, int bits) {
        long n = numel(), perWord = 64 / bits, words = n / perWord;
        long ones = bits == 32 ? 0x00000001_00000001L : 0x0001_0001_0001_0001L;
        long highs = ones << (bits - 1);
        long lane = bits == 32 ? 0xFFFFFFFFL : 0xFFFFL;
        long count = 0;
        // bulk copies into a heap chunk, then a loop over a plain array: at start-up this runs in
        // the interpreter and C1, where a MemorySegment read per word is a chain of VarHandle calls
        long[] chunk = new long[(int) Math.min(words, 4096)];
        for (long w0 = 0; w0 < words; w0 += chunk.length) {
            int m = (int) Math.min(chunk.length, words - w0);
            MemorySegment.copy(data, LE_LONG, w0 * 8, chunk, 0, m);
            for (int w = 0; w < m; w++) {
                // y's lane is 0 exactly where the exponent is all ones; the sign bit is outside mask,
                // so the classic "some lane is zero" test below is exact
                long y = (chunk[w] & mask) ^ mask;
                if (((y - ones) & ~y & highs) != 0) {
                    for (int l = 0; l < perWord; l++) {
                        count += ((y >>> (l * bits)) & lane) == 0 ? 1 : 0;
                    }
                }
            }
        }
        for (long i = words * perWord; i < n; i++) {
            count += Float.isFinite(getFloat(i)) ? 0 : 1;
        }
        return count;
    }

    /** A heap FP32 copy (for trainable parameters and tests; inference reads in place). */
    public float[] toFloatArray() {
        int n = Math.toIntExact(numel());
        float[] out = new float[n];
        if (dtype == DType.F32) {
            MemorySegment.copy(data, DType.LE_F32, 0, out, 0, n);
            return out;
        }
        for (int i = 0; i < n; i++) {
            out[i] = dtype.getFloat(data, i);
        }
        return out;
    }

    public long[] toLongArray() {
        int n = Math.toIntExact(numel());
        long[] out = new long[n];
        for (int i = 0; i < n; i++) {
            out[i] = dtype.getLong(data, i);
        }
        return out;
    }

    /** A heap-backed F32 tensor of the given values. */
    public static TensorData ofFloats(String name, float[] values, long... shape) {
        MemorySegment seg = MemorySegment.ofArray(new byte[values.length * 4]);
        MemorySegment.copy(values, 0, seg, DType.LE_F32, 0, values.length);
        return new TensorData(name, DType.F32, shape, seg);
    }

    /** A heap-backed tensor holding raw little-endian bytes. */
    public static TensorData ofBytes(String name, DType dtype, byte[] bytes, long... shape) {
        return new TensorData(name, dtype, shape, MemorySegment.ofArray(bytes));
    }

    /** A copy of this tensor converted to another float dtype (F32, F16 or BF16), on the heap or in arena. */
    public TensorData convert(DType to, Arena arena) {
        int n = Math.toIntExact(numel());
        MemorySegment seg = arena == null
                ? MemorySegment.ofArray(new byte[n * to.size()])
                : arena.allocate((long) n * to.size(), 8);
        for (int i = 0; i < n; i++) {
            float v = getFloat(i);
            switch (to) {
                case F32 -> seg.set(DType.LE_F32, i * 4L, v);
                case F16 -> seg.set(DType.LE_I16, i * 2L, Float.floatToFloat16(v));
                case BF16 -> seg.set(DType.LE_I16, i * 2L, DType.floatToBf16(v));
                default -> throw new IllegalArgumentException("convert to " + to);
            }
        }
        return new TensorData(name, to, shape, seg);
    }

    public TensorData withName(String newName) {
        return new TensorData(newName, dtype, shape, data);
    }
}
