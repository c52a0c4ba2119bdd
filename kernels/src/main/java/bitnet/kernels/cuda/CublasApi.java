package bitnet.kernels.cuda;

/**
 * The few cuBLAS calls the CUDA backend needs, independent of how cuBLAS is bound. cuBLAS is
 * column-major: callers pass row-major matrices as their transposes (see CudaKernels#matmul).
 * Pointers are raw device addresses. One binding exists, {@link FfmCublas} (java.lang.foreign),
 * which loads libcublas.so.13 or .so.12; JCublas2 is not used because its native library is
 * linked against libcublas.so.12 only and fails on CUDA 13 machines.
 */
interface CublasApi extends AutoCloseable {
    /** Which library and version this binding talks to, for logs. */
    String describe();

    /** Issues all later calls on this CUDA stream (a CUstream handle). */
    void setStream(long stream);

    /** C (m, n) = alpha * op(A) (m, k) * op(B) (k, n) + beta * C, all column-major. */
    void sgemm(
            boolean transA,
            boolean transB,
            int m,
            int n,
            int k,
            float alpha,
            long a,
            int lda,
            long b,
            int ldb,
            float beta,
            long c,
            int ldc);

    @Override
    void close();
}
