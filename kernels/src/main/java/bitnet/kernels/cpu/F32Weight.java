package bitnet.kernels.cpu;

import bitnet.kernels.Weight;

/** A trainable FP32 weight (rows, cols) living in a {@link CpuBuf}. */
public record F32Weight(CpuBuf buf, int rows, int cols) implements Weight {
    public F32Weight {
        if ((long) rows * cols > buf.a.length) {
            throw new IllegalArgumentException("buffer of " + buf.a.length + " for (" + rows + ", " + cols + ")");
        }
    }

    @Override
    public float get(int r, int c) {
        return buf.a[r * cols + c];
    }
}
