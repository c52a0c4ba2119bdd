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
