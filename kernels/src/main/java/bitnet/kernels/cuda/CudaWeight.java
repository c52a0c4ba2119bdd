package bitnet.kernels.cuda;

import bitnet.kernels.Weight;

/**
 * A weight (rows, cols), row-major FP32 in GPU memory. {@code trainable} weights wrap a buffer
 * the caller owns ({@link CudaKernels#weight(bitnet.kernels.Buf, int, int)}); the others were
 * uploaded (and widened from BF16/F16) by the backend, which owns their memory.
 * {@link #get} copies one element to the host: for tests and reference code only.
 */
public record CudaWeight(CudaBuf buf, int rows, int cols, boolean trainable) implements Weight {
    public CudaWeight {
        if ((long) rows * cols > buf.size()) {
            throw new IllegalArgumentException("buffer of " + buf.size() + " for (" + rows + ", " + cols + ")");
        }
    }

    @Override
    public float get(int r, int c) {
        return buf.dev().readFloat(buf, (long) r * cols + c);
    }
}
