package bitnet.kernels.cuda;

/**
 * A CUDA driver or cuBLAS call failed. Out-of-memory failures say how much was asked for and
 * what to change; other failures name the call and the driver's error name. Not used for
 * "there is no GPU": {@link CudaKernels#tryCreate()} reports that as a String.
 */
public class CudaException extends RuntimeException {
    public CudaException(String message) {
        super(message);
    }

    /** The message for an allocation the device could not satisfy. */
    static String outOfMemory(String what, long bytes, long free, long total) {
        return String.format(
                "CUDA out of memory: %s needed %.1f MiB but only %.1f of %.1f MiB are free on the GPU. "
                        + "Use a smaller batch size or sequence length (--batch-size, --seq-len), or run on the CPU with --device cpu.",
                what, bytes / 1048576.0, free / 1048576.0, total / 1048576.0);
    }
}
