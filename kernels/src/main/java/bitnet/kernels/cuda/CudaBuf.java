package bitnet.kernels.cuda;

import bitnet.kernels.Buf;
import jcuda.driver.CUdeviceptr;

/**
 * An FP32 buffer in GPU memory. {@link #close()} frees it (once; later calls do nothing).
 * Model code only passes it to {@link CudaKernels}; the raw address is for cuBLAS.
 */
public final class CudaBuf implements Buf {
    final CUdeviceptr ptr;
    final long addr;
    private final long n;
    private final CudaDevice dev;
    private boolean closed;

    CudaBuf(CudaDevice dev, CUdeviceptr ptr, long n) {
        this.dev = dev;
        this.ptr = ptr;
        this.addr = CudaDevice.address(ptr);
        this.n = n;
    }

    @Override
    public long size() {
        return n;
    }

    /** The device address (for native libraries such as cuBLAS). */
    public long address() {
        if (closed) {
            throw new IllegalStateException("CUDA buffer used after close()");
        }
        return addr;
    }

    @Override
    public synchronized void close() {
        if (!closed) {
            closed = true;
            dev.free(ptr);
        }
    }

    CudaDevice dev() {
        return dev;
    }

    boolean isClosed() {
        return closed;
    }
}
