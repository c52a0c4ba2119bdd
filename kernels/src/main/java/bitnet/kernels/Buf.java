package bitnet.kernels;

/**
 * An FP32 buffer owned by a backend: a heap array on the CPU, device memory on a GPU.
 * Model code holds Bufs and passes them to {@link Kernels}; it never reaches inside.
 */
public interface Buf extends AutoCloseable {
    /** Number of float elements. */
    long size();

    /** Frees device memory; a no-op on the CPU. */
    @Override
    default void close() {}
}
