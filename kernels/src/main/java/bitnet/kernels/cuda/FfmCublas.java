package bitnet.kernels.cuda;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * cuBLAS through java.lang.foreign: downcalls into libcublas.so.13 (CUDA 13) or .so.12. Only
 * SGEMM and handle management. TF32 tensor-core math is off unless -Dbitnet.cuda.tf32=true,
 * so results match the FP32 reference to FP32 rounding. Not thread-safe (one handle).
 */
final class FfmCublas implements CublasApi {
    private static final Linker LINKER = Linker.nativeLinker();
    private static final int CUBLAS_DEFAULT_MATH = 0;
    private static final int CUBLAS_TF32_TENSOR_OP_MATH = 3;

    private final Arena arena = Arena.ofShared();
    private final String lib;
    private final MethodHandle sgemm, setStream, destroy;
    private final MemorySegment handle;
    private final MemorySegment scalars; // alpha, beta: host pointers (the default pointer mode)
    private final int version;
    private final boolean tf32;
    private boolean closed;

    private FfmCublas(String lib, SymbolLookup sl, boolean tf32) throws Throwable {
        this.lib = lib;
        this.tf32 = tf32;
        MethodHandle create = h(sl, "cublasCreate_v2", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        MethodHandle mathMode = h(sl, "cublasSetMathMode", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
        MethodHandle getVersion = h(sl, "cublasGetVersion_v2", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
        setStream = h(sl, "cublasSetStream_v2", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
        destroy = h(sl, "cublasDestroy_v2", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        sgemm = h(
                sl,
                "cublasSgemm_v2",
                FunctionDescriptor.of(
                        JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, JAVA_INT,
                        ADDRESS, JAVA_INT, ADDRESS, ADDRESS, JAVA_INT));
        MemorySegment hp = arena.allocate(ADDRESS);
        check((int) create.invokeExact(hp), "cublasCreate_v2");
        handle = hp.get(ADDRESS, 0);
        check(
                (int) mathMode.invokeExact(handle, tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH),
                "cublasSetMathMode");
        MemorySegment vp = arena.allocate(JAVA_INT);
        check((int) getVersion.invokeExact(handle, vp), "cublasGetVersion_v2");
        version = vp.get(JAVA_INT, 0);
        scalars = arena.allocate(JAVA_FLOAT, 2);
    }

    private static MethodHandle h(SymbolLookup sl, String fn, FunctionDescriptor fd) {
        MemorySegment sym = sl.find(fn).orElseThrow(() -> new CudaException("cuBLAS has no symbol " + fn));
        return LINKER.downcallHandle(sym, fd);
    }

    /**
     * A binding, or a String saying why none could be made. Tries -Dbitnet.cublas=PATH, then the
     * loader's search path, then the usual CUDA install folders. The CUDA context must be current.
     */
    static Object open(boolean tf32) {
        List<String> tried = new ArrayList<>();
        for (String cand : candidates()) {
            SymbolLookup sl;
            try {
                sl = SymbolLookup.libraryLookup(cand, Arena.global());
            } catch (IllegalArgumentException | IllegalCallerException e) {
                tried.add(cand);
                continue;
            }
            try {
                return new FfmCublas(cand, sl, tf32);
            } catch (Throwable t) {
                return "cuBLAS (" + cand + ") failed to start: " + t.getMessage();
            }
        }
        return "cuBLAS not found (tried " + String.join(", ", tried)
                + "); add its folder to LD_LIBRARY_PATH or pass -Dbitnet.cublas=/path/libcublas.so.13";
    }

    private static List<String> candidates() {
        List<String> c = new ArrayList<>();
        String prop = System.getProperty("bitnet.cublas");
        if (prop != null && !prop.isBlank()) {
            c.add(prop);
        }
        c.add("libcublas.so.13");
        c.add("libcublas.so.12");
        List<String> dirs = new ArrayList<>();
        for (String env : new String[] {"CUDA_HOME", "CUDA_PATH"}) {
            String v = System.getenv(env);
            if (v != null) {
                dirs.add(v + "/lib64");
                dirs.add(v + "/lib");
            }
        }
        dirs.addAll(List.of(
                "/usr/local/cuda/lib64",
                "/usr/local/cuda-13.0/lib64",
                "/usr/local/cuda-13/lib64",
                "/usr/local/cuda-12/lib64",
                "/usr/local/cuda/targets/x86_64-linux/lib",
                "/usr/lib/x86_64-linux-gnu"));
        for (String d : dirs) {
            for (String so : new String[] {"libcublas.so.13", "libcublas.so.12"}) {
                if (Files.exists(Path.of(d, so))) {
                    c.add(d + "/" + so);
                }
            }
        }
        return c;
    }

    private static void check(int status, String what) {
        if (status != 0) {
            String nm = switch (status) {
                case 1 -> "CUBLAS_STATUS_NOT_INITIALIZED";
                case 3 ->
                    "CUBLAS_STATUS_ALLOC_FAILED (GPU out of memory: use a smaller batch size or sequence length, or --device cpu)";
                case 7 -> "CUBLAS_STATUS_INVALID_VALUE";
                case 8 -> "CUBLAS_STATUS_ARCH_MISMATCH";
                case 11 -> "CUBLAS_STATUS_MAPPING_ERROR";
                case 13 -> "CUBLAS_STATUS_EXECUTION_FAILED";
                case 14 -> "CUBLAS_STATUS_INTERNAL_ERROR";
                case 15 -> "CUBLAS_STATUS_NOT_SUPPORTED";
                default -> "cuBLAS status " + status;
            };
            throw new CudaException(what + " failed: " + nm);
        }
    }

    @Override
    public String describe() {
        return lib + " (cuBLAS " + version + (tf32 ? ", TF32 allowed" : ", FP32 math") + ", via FFM)";
    }

    @Override
    public void setStream(long stream) {
        try {
            check((int) setStream.invokeExact(handle, MemorySegment.ofAddress(stream)), "cublasSetStream_v2");
        } catch (CudaException e) {
            throw e;
        } catch (Throwable t) {
            throw new CudaException("cublasSetStream_v2: " + t);
        }
    }

    @Override
    public synchronized void sgemm(
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
            int ldc) {
        scalars.set(JAVA_FLOAT, 0, alpha);
        scalars.set(JAVA_FLOAT, 4, beta);
        int st;
        try {
            st = (int) sgemm.invokeExact(
                    handle,
                    transA ? 1 : 0,
                    transB ? 1 : 0,
                    m,
                    n,
                    k,
                    scalars,
                    MemorySegment.ofAddress(a),
                    lda,
                    MemorySegment.ofAddress(b),
                    ldb,
                    scalars.asSlice(4),
                    MemorySegment.ofAddress(c),
                    ldc);
        } catch (Throwable t) {
            throw new CudaException("cublasSgemm_v2: " + t);
        }
        check(st, "cublasSgemm_v2(m=" + m + ", n=" + n + ", k=" + k + ")");
    }

    @Override
    public synchronized void close() {
        if (!closed) {
            closed = true;
            try {
                int ignored = (int) destroy.invokeExact(handle);
            } catch (Throwable ignored) {
                // shutting down: nothing to report to
            }
            arena.close();
        }
    }
}
