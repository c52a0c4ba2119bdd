package bitnet.kernels.cuda;

import static jcuda.driver.JCudaDriver.*;

import java.io.IOException;
import java.io.InputStream;
import java.lang.reflect.Field;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import jcuda.NativePointerObject;
import jcuda.Pointer;
import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUfunction;
import jcuda.driver.CUmodule;
import jcuda.driver.CUresult;
import jcuda.driver.CUstream;

/**
 * One GPU seen through JCuda's driver API: its primary context, one stream, the PTX modules
 * from resources, kernel launches and raw memory. Everything {@link CudaKernels} issues goes to
 * that one blocking stream, so the synchronous host copies (which run on the legacy stream)
 * are ordered after earlier kernels without explicit events. Not thread-safe beyond binding the
 * context to whichever thread calls. Knows nothing of the Kernels semantics.
 */
final class CudaDevice implements AutoCloseable {
    private static final Field NATIVE_POINTER;

    static {
        try {
            NATIVE_POINTER = NativePointerObject.class.getDeclaredField("nativePointer");
            NATIVE_POINTER.setAccessible(true);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    final CUdevice device = new CUdevice();
    final CUcontext ctx = new CUcontext();
    final CUstream stream = new CUstream();
    final String name;
    final int cc; // compute capability as major*10+minor
    private final List<CUmodule> modules = new ArrayList<>();
    private final Map<String, CUfunction> functions = new HashMap<>();
    private final ThreadLocal<Boolean> bound = ThreadLocal.withInitial(() -> false);
    private final CUdeviceptr nullPtr = new CUdeviceptr();
    private CUdeviceptr scratch;
    private long scratchBytes;

    CudaDevice(int ordinal) {
        check(cuDeviceGet(device, ordinal), "cuDeviceGet");
        byte[] nm = new byte[256];
        check(cuDeviceGetName(nm, nm.length, device), "cuDeviceGetName");
        int len = 0;
        while (len < nm.length && nm[len] != 0) {
            len++;
        }
        name = new String(nm, 0, len, StandardCharsets.UTF_8);
        int[] a = new int[1], b = new int[1];
        check(
                cuDeviceGetAttribute(
                        a, jcuda.driver.CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, device),
                "attr");
        check(
                cuDeviceGetAttribute(
                        b, jcuda.driver.CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, device),
                "attr");
        cc = a[0] * 10 + b[0];
        check(cuDevicePrimaryCtxRetain(ctx, device), "cuDevicePrimaryCtxRetain");
        bind();
        check(cuStreamCreate(stream, 0), "cuStreamCreate"); // 0: blocking w.r.t. the legacy stream
        try {
            loadModules();
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    /** Makes the context current on the calling thread (once per thread). */
    void bind() {
        if (!bound.get()) {
            check(cuCtxSetCurrent(ctx), "cuCtxSetCurrent");
            bound.set(true);
        }
    }

    static long address(NativePointerObject p) {
        try {
            return NATIVE_POINTER.getLong(p);
        } catch (IllegalAccessException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The raw stream handle, for cublasSetStream. */
    long streamHandle() {
        return address(stream);
    }

    static void check(int rc, String what) {
        if (rc != CUresult.CUDA_SUCCESS) {
            String[] nm = new String[1];
            cuGetErrorName(rc, nm);
            throw new CudaException(
                    what + " failed: " + (nm[0] != null ? nm[0] : CUresult.stringFor(rc)) + " (" + rc + ")");
        }
    }

    // ---- modules and launches -----------------------------------------------------------------

    /** Loads every PTX listed in bitnet/cuda/index.txt, choosing per module the highest arch <= cc. */
    private void loadModules() {
        String index = resource("index.txt");
        Map<String, String> best = new HashMap<>();
        Map<String, Integer> bestArch = new HashMap<>();
        for (String f : index.split("\n")) {
            f = f.strip();
            if (!f.endsWith(".ptx")) {
                continue;
            }
            String[] parts = f.substring(0, f.length() - 4).split("\\.sm"); // name.sm75.ptx
            int arch = Integer.parseInt(parts[1]);
            Integer cur = bestArch.get(parts[0]);
            // the highest arch the device runs; failing that (an older GPU) the lowest there is
            boolean better = cur == null || (arch <= cc ? cur > cc || arch > cur : cur > cc && arch < cur);
            if (better) {
                best.put(parts[0], f);
                bestArch.put(parts[0], arch);
            }
        }
        for (String f : best.values()) {
            String ptx = resource(f);
            CUmodule m = new CUmodule();
            byte[] bytes = (ptx + "\0").getBytes(StandardCharsets.US_ASCII);
            check(cuModuleLoadData(m, bytes), "cuModuleLoadData(" + f + ")");
            modules.add(m);
            for (String line : ptx.split("\n")) {
                int at = line.indexOf(".entry ");
                if (line.startsWith(".visible") && at >= 0) {
                    String fn = line.substring(at + 7).replace("(", "").strip();
                    CUfunction cf = new CUfunction();
                    check(cuModuleGetFunction(cf, m, fn), "cuModuleGetFunction(" + fn + ")");
                    functions.put(fn, cf);
                }
            }
        }
    }

    private static String resource(String f) {
        try (InputStream in = CudaDevice.class.getResourceAsStream("/bitnet/cuda/" + f)) {
            if (in == null) {
                throw new CudaException("missing resource bitnet/cuda/" + f + " (run src/cuda/build-ptx.sh)");
            }
            return new String(in.readAllBytes(), StandardCharsets.US_ASCII);
        } catch (IOException e) {
            throw new CudaException("reading bitnet/cuda/" + f + ": " + e);
        }
    }

    /** Blocks for a grid-stride loop over n elements. */
    static int blocksFor(long n, int threads) {
        return (int) Math.max(1, Math.min((n + threads - 1) / threads, 1L << 16));
    }

    /**
     * Launches fn on the stream. Arguments: CudaBuf / CUdeviceptr (device pointers), null (a null
     * device pointer), Integer, Long, Float.
     */
    void launch(String fn, int grid, int block, Object... args) {
        bind();
        CUfunction f = functions.get(fn);
        if (f == null) {
            throw new CudaException("no CUDA kernel named " + fn + " in the loaded PTX");
        }
        NativePointerObject[] ps = new NativePointerObject[args.length];
        for (int i = 0; i < args.length; i++) {
            Object a = args[i];
            ps[i] = switch (a) {
                case null -> Pointer.to(nullPtr);
                case CudaBuf b -> {
                    if (b.isClosed()) {
                        throw new IllegalStateException(fn + ": argument " + i + " is a closed CUDA buffer");
                    }
                    yield Pointer.to(b.ptr);
                }
                case CUdeviceptr p -> Pointer.to(p);
                case Integer v -> Pointer.to(new int[] {v});
                case Long v -> Pointer.to(new long[] {v});
                case Float v -> Pointer.to(new float[] {v});
                default -> throw new IllegalArgumentException(fn + ": unsupported kernel argument " + a.getClass());
            };
        }
        check(cuLaunchKernel(f, grid, 1, 1, block, 1, 1, 0, stream, Pointer.to(ps), null), "launch " + fn);
    }

    // ---- memory ------------------------------------------------------------------------------

    CUdeviceptr malloc(long bytes, String what) {
        bind();
        CUdeviceptr p = new CUdeviceptr();
        int rc = cuMemAlloc(p, Math.max(bytes, 4));
        if (rc == CUresult.CUDA_ERROR_OUT_OF_MEMORY) {
            long[] free = {0}, total = {0};
            cuMemGetInfo(free, total);
            throw new CudaException(CudaException.outOfMemory(what, bytes, free[0], total[0]));
        }
        check(rc, "cuMemAlloc(" + bytes + " bytes for " + what + ")");
        return p;
    }

    void free(CUdeviceptr p) {
        bind();
        cuMemFree(p); // nothing useful to do on failure while freeing
    }

    /** A zeroed FP32 buffer of n elements. */
    CudaBuf allocFloats(long n, String what) {
        CUdeviceptr p = malloc(n * 4, what);
        CudaBuf b = new CudaBuf(this, p, n);
        memsetZero(p, n);
        return b;
    }

    void memsetZero(CUdeviceptr p, long n32) {
        if (n32 > 0) {
            check(cuMemsetD32Async(p, 0, n32, stream), "cuMemsetD32Async");
        }
    }

    /** A device scratch area of at least bytes, reused between calls (one user at a time). */
    CUdeviceptr scratch(long bytes) {
        if (scratch == null || scratchBytes < bytes) {
            if (scratch != null) {
                sync();
                free(scratch);
                scratch = null;
            }
            long cap = Math.max(bytes, 1 << 20);
            scratch = malloc(cap, "scratch");
            scratchBytes = cap;
        }
        return scratch;
    }

    void htod(CUdeviceptr dst, Pointer src, long bytes) {
        bind();
        if (bytes > 0) {
            check(cuMemcpyHtoD(dst, src, bytes), "cuMemcpyHtoD");
        }
    }

    void dtoh(Pointer dst, CUdeviceptr src, long bytes) {
        sync();
        if (bytes > 0) {
            check(cuMemcpyDtoH(dst, src, bytes), "cuMemcpyDtoH");
        }
    }

    void dtod(CUdeviceptr dst, CUdeviceptr src, long bytes) {
        bind();
        if (bytes > 0) {
            check(cuMemcpyDtoDAsync(dst, src, bytes, stream), "cuMemcpyDtoDAsync");
        }
    }

    /** Waits for the stream; asynchronous kernel faults surface here. */
    void sync() {
        bind();
        check(cuStreamSynchronize(stream), "CUDA stream (a kernel failed or the device faulted)");
    }

    float readFloat(CudaBuf b, long i) {
        float[] h = new float[1];
        dtoh(Pointer.to(h), b.ptr.withByteOffset(i * 4), 4);
        return h[0];
    }

    long[] memInfo() {
        bind();
        long[] free = {0}, total = {0};
        check(cuMemGetInfo(free, total), "cuMemGetInfo");
        return new long[] {free[0], total[0]};
    }

    @Override
    public void close() {
        bind();
        cuStreamSynchronize(stream);
        if (scratch != null) {
            cuMemFree(scratch);
            scratch = null;
        }
        for (CUmodule m : modules) {
            cuModuleUnload(m);
        }
        modules.clear();
        functions.clear();
        cuStreamDestroy(stream);
        cuDevicePrimaryCtxRelease(device);
    }
}
