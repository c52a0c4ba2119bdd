package bitnet.kernels.cpu;

import bitnet.io.DType;
import bitnet.io.TensorData;
import bitnet.kernels.Weight;
import java.lang.foreign.MemorySegment;

/**
 * A weight read in place from stored bytes (usually a slice of a memory-mapped safetensors file):
 * F32, F16 or BF16, converted to FP32 inside the kernels, never copied to the heap.
 */
public record StoredWeight(MemorySegment data, DType dtype, int rows, int cols) implements Weight {

    public StoredWeight {
        if (dtype != DType.F32 && dtype != DType.F16 && dtype != DType.BF16) {
            throw new IllegalArgumentException("weights must be F32, F16 or BF16, not " + dtype);
        }
        if (data.byteSize() != (long) rows * cols * dtype.size()) {
            throw new IllegalArgumentException(
                    "stored weight has " + data.byteSize() + " bytes for (" + rows + ", " + cols + ")");
        }
    }

    public static StoredWeight of(TensorData t) {
        if (t.rank() == 2) {
            return new StoredWeight(t.data(), t.dtype(), t.dim(0), t.dim(1));
        }
        if (t.rank() == 1) {
            return new StoredWeight(t.data(), t.dtype(), 1, t.dim(0));
        }
        throw new IllegalArgumentException(t.name() + ": a weight must be 1-D or 2-D");
    }

    @Override
    public float get(int r, int c) {
        return dtype.getFloat(data, (long) r * cols + c);
    }
}
