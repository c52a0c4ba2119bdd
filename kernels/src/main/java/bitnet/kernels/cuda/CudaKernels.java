package bitnet.kernels.cuda;

import bitnet.io.DType;
import bitnet.io.TensorData;
import bitnet.kernels.Buf;
import bitnet.kernels.Kernels;
import bitnet.kernels.Weight;
import bitnet.kernels.cpu.StoredWeight;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.util.Collections;
import java.util.Map;
import java.util.WeakHashMap;
import jcuda.Pointer;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.JCudaDriver;

/**
 * The CUDA backend: every {@link Kernels} op as a CUDA C kernel (src/cuda/*.cu, shipped as PTX)
 * or a cuBLAS SGEMM, on one GPU and one stream. All compute is FP32; BF16/F16 weights are widened
 * once on upload. Semantics are those of {@link bitnet.kernels.cpu.ScalarKernels}, the test oracle.
 * Ops are asynchronous: only download, sumSquares and {@link #synchronize()} wait for the GPU.
 * Not thread-safe: one caller thread at a time (any thread; the context follows it).
 * Packed ternary weights have no GPU kernel yet: foreign weights are widened to FP32 on first use.
 */
public final class CudaKernels implements Kernels {
    private static final int THREADS = 256;
    private static final int ROW_THREADS = 256; // one block per row (norms, cross-entropy)
    private static final int WARPS_PER_BLOCK = 4; // warp-per-row kernels (attention)

    private final CudaDevice dev;
    private final CublasApi blas;
    // weights made by other backends (e.g. a CPU StoredWeight), uploaded once on first use
    private final Map<Weight, CudaWeight> foreign = Collections.synchronizedMap(new WeakHashMap<>());
    private CUdeviceptr ints;
    private long intsCap;
    private final CUdeviceptr dbl;

    private CudaKernels(CudaDevice dev, CublasApi blas) {
        this.dev = dev;
        this.blas = blas;
        this.dbl = dev.malloc(8, "sumSquares result");
    }

    /**
     * A CUDA backend on device -Dbitnet.cuda.device (default 0), or a String saying why there is
     * none. Never throws and never loads JCuda's native library unless libcuda.so.1 (the driver)
     * is loadable, so machines without a GPU are not at risk.
     */
    public static Object tryCreate() {
        try {
            return create();
        } catch (Throwable t) { // UnsatisfiedLinkError, LinkageError, CudaException, anything
            return "CUDA backend failed to start: " + t;
        }
    }

    private static Object create() {
        try (Arena probe = Arena.ofConfined()) {
            SymbolLookup.libraryLookup("libcuda.so.1", probe);
        } catch (IllegalArgumentException | IllegalCallerException e) {
            return "no NVIDIA driver: libcuda.so.1 is not loadable (" + e.getMessage() + ")";
        }
        JCudaDriver.setExceptionsEnabled(false);
        int rc = JCudaDriver.cuInit(0);
        if (rc != 0) {
            return "cuInit failed (" + rc + "): the NVIDIA driver is present but no usable GPU is visible";
        }
        int[] count = {0};
        JCudaDriver.cuDeviceGetCount(count);
        if (count[0] == 0) {
            return "no CUDA device";
        }
        int ordinal = Integer.getInteger("bitnet.cuda.device", 0);
        if (ordinal < 0 || ordinal >= count[0]) {
            return "bitnet.cuda.device=" + ordinal + " but there are " + count[0] + " CUDA devices";
        }
        CudaDevice d = new CudaDevice(ordinal);
        Object b = FfmCublas.open(Boolean.getBoolean("bitnet.cuda.tf32"));
        if (!(b instanceof CublasApi blas)) {
            d.close();
            return b;
        }
        blas.setStream(d.streamHandle());
        return new CudaKernels(d, blas);
    }

    @Override
    public String name() {
        return "cuda";
    }

    /** Device name, compute capability and cuBLAS binding, for logs. */
    public String describe() {
        long[] mem = dev.memInfo();
        return String.format("%s (sm_%d, %.1f GiB), %s", dev.name, dev.cc, mem[1] / 1073741824.0, blas.describe());
    }

    /** Waits until every issued op has finished (for timing). */
    public void synchronize() {
        dev.sync();
    }

    /** Free and total device memory in bytes. */
    public long[] memoryInfo() {
        return dev.memInfo();
    }

    @Override
    public void close() {
        dev.sync();
        foreign.values().forEach(w -> w.buf().close());
        foreign.clear();
        if (ints != null) {
            dev.free(ints);
        }
        dev.free(dbl);
        blas.close();
        dev.close();
    }

    // ---- memory ----------------------------------------------------------------------------

    private static CudaBuf b(Buf x) {
        if (x == null) {
            return null;
        }
        if (x instanceof CudaBuf c) {
            return c;
        }
        throw new IllegalArgumentException("a " + x.getClass().getSimpleName() + " was passed to the CUDA backend");
    }

    @Override
    public Buf alloc(long n) {
        return dev.allocFloats(n, "a buffer of " + n + " floats");
    }

    @Override
    public Buf upload(float[] host, int n) {
        CudaBuf d = new CudaBuf(dev, dev.malloc(4L * n, "a buffer of " + n + " floats"), n);
        dev.htod(d.ptr, Pointer.to(host), 4L * n);
        return d;
    }

    @Override
    public void download(Buf buf, float[] host, int n) {
        dev.dtoh(Pointer.to(host), b(buf).ptr, 4L * n);
    }

    @Override
    public void copy(Buf dst, long dstOff, Buf src, long srcOff, long n) {
        dev.dtod(b(dst).ptr.withByteOffset(4 * dstOff), b(src).ptr.withByteOffset(4 * srcOff), 4 * n);
    }

    @Override
    public void zero(Buf buf) {
        dev.bind();
        dev.memsetZero(b(buf).ptr, buf.size());
    }

    @Override
    public Weight weight(Buf buf, int rows, int cols) {
        return new CudaWeight(b(buf), rows, cols, true);
    }

    @Override
    public Weight weight(TensorData stored) {
        int rows = stored.rank() == 1 ? 1 : stored.dim(0);
        int cols = stored.rank() == 1 ? stored.dim(0) : stored.dim(1);
        if (stored.rank() > 2) {
            throw new IllegalArgumentException(stored.name() + ": a weight must be 1-D or 2-D");
        }
        return new CudaWeight(
                uploadStored(stored.data(), stored.dtype(), (long) rows * cols, stored.name()), rows, cols, false);
    }

    /** Copies stored F32/BF16/F16 bytes to the device in chunks and widens them there. */
    private CudaBuf uploadStored(MemorySegment data, DType dt, long n, String what) {
        if (dt != DType.F32 && dt != DType.BF16 && dt != DType.F16) {
            throw new IllegalArgumentException(what + ": weights must be F32, F16 or BF16, not " + dt);
        }
        CudaBuf out = new CudaBuf(dev, dev.malloc(4 * n, "weight " + what), n);
        CUdeviceptr raw = dt == DType.F32 ? out.ptr : dev.malloc(n * dt.size(), "weight " + what + " (staging)");
        long bytes = n * dt.size();
        byte[] chunk = new byte[(int) Math.min(bytes, 16 << 20)];
        for (long off = 0; off < bytes; off += chunk.length) {
            int len = (int) Math.min(chunk.length, bytes - off);
            MemorySegment.copy(data, ValueLayout.JAVA_BYTE, off, chunk, 0, len);
            dev.htod(raw.withByteOffset(off), Pointer.to(chunk), len);
        }
        if (dt != DType.F32) {
            dev.launch(
                    dt == DType.BF16 ? "bf16_to_f32" : "f16_to_f32",
                    CudaDevice.blocksFor(n, THREADS),
                    THREADS,
                    out,
                    raw,
                    n);
            dev.sync();
            dev.free(raw);
        }
        return out;
    }

    @Override
    public Buf bufOf(Weight w) {
        return w instanceof CudaWeight c && c.trainable() ? c.buf() : null;
    }

    /** The device FP32 matrix behind any weight (foreign ones are uploaded once and cached). */
    private CudaBuf wbuf(Weight w) {
        if (w == null) {
            return null;
        }
        if (w instanceof CudaWeight c) {
            return c.buf();
        }
        return foreign.computeIfAbsent(w, x -> {
                    long n = (long) x.rows() * x.cols();
                    if (x instanceof StoredWeight s) {
                        return new CudaWeight(
                                uploadStored(s.data(), s.dtype(), n, "weight"), x.rows(), x.cols(), false);
                    }
                    float[] h = new float[Math.toIntExact(n)];
                    for (int r = 0; r < x.rows(); r++) {
                        for (int c = 0; c < x.cols(); c++) {
                            h[r * x.cols() + c] = x.get(r, c);
                        }
                    }
                    return new CudaWeight((CudaBuf) upload(h), x.rows(), x.cols(), false);
                })
                .buf();
    }

    /** ids / targets to the device (a reused int scratch buffer). */
    private CUdeviceptr ints(int[] a, int n) {
        if (ints == null || intsCap < n) {
            if (ints != null) {
                dev.sync();
                dev.free(ints);
            }
            intsCap = Math.max(n, 1 << 16);
            ints = dev.malloc(4 * intsCap, "token ids");
        }
        dev.htod(ints, Pointer.to(a), 4L * n);
        return ints;
    }

    private static int grid(long n) {
        return CudaDevice.blocksFor(n, THREADS);
    }

    // ---- embeddings ------------------------------------------------------------------------

    @Override
    public void embedding(Buf out, int[] ids, Weight wte, Weight wpe, int B, int T, int C, int pos0) {
        int N = B * T;
        CUdeviceptr d = ints(ids, N);
        dev.launch("embedding_forward", grid((long) N * C), THREADS, b(out), d, wbuf(wte), wbuf(wpe), N, T, C, pos0);
    }

    @Override
    public void embeddingBackward(Buf dwte, Buf dwpe, Buf dout, int[] ids, int B, int T, int C) {
        int N = B * T;
        CUdeviceptr d = ints(ids, N);
        dev.launch("embedding_backward_wte", grid((long) N * C), THREADS, b(dwte), b(dout), d, N, C);
        if (dwpe != null) {
            dev.launch("embedding_backward_wpe", grid((long) T * C), THREADS, b(dwpe), b(dout), B, T, C);
        }
    }

    // ---- linear layers ---------------------------------------------------------------------
    // cuBLAS is column-major; a row-major (r, c) matrix is the column-major (c, r) transpose.

    @Override
    public void matmul(Buf out, Buf inp, Weight w, Buf bias, int N, int C, int OC) {
        if (N == 0 || OC == 0) {
            return;
        }
        if (C == 0) { // an empty product: cuBLAS rejects lda = 0
            zero(out);
            if (bias != null) {
                dev.launch("add_bias", grid((long) N * OC), THREADS, b(out), b(bias), (long) N, OC);
            }
            return;
        }
        // outᵀ (OC, N) = W (OC, C) · inpᵀ (C, N): W's buffer read column-major is Wᵀ, so transpose it
        blas.sgemm(true, false, OC, N, C, 1f, wbuf(w).address(), C, b(inp).address(), C, 0f, b(out).address(), OC);
        if (bias != null) {
            dev.launch("add_bias", grid((long) N * OC), THREADS, b(out), b(bias), (long) N, OC);
        }
    }

    @Override
    public void matmulBackward(Buf dinp, Buf dweight, Buf dbias, Buf dout, Buf inp, Weight w, int N, int C, int OC) {
        boolean gemm = N > 0 && OC > 0 && C > 0;
        if (dinp != null && gemm) {
            // dinpᵀ (C, N) += Wᵀ (C, OC) · doutᵀ (OC, N)
            blas.sgemm(
                    false, false, C, N, OC, 1f, wbuf(w).address(), C, b(dout).address(), OC, 1f, b(dinp).address(), C);
        }
        if (dweight != null && gemm) {
            // dWᵀ (C, OC) += inpᵀ (C, N) · dout (N, OC)
            blas.sgemm(
                    false,
                    true,
                    C,
                    OC,
                    N,
                    1f,
                    b(inp).address(),
                    C,
                    b(dout).address(),
                    OC,
                    1f,
                    b(dweight).address(),
                    C);
        }
        if (dbias != null && OC > 0) {
            dev.launch("bias_backward", (OC + THREADS - 1) / THREADS, THREADS, b(dbias), b(dout), N, OC);
        }
    }

    // ---- norms -----------------------------------------------------------------------------

    @Override
    public void layernorm(Buf out, Buf mean, Buf rstd, Buf inp, Buf w, Buf bb, int N, int C, float eps) {
        if (N > 0) {
            dev.launch("layernorm_forward", N, ROW_THREADS, b(out), b(mean), b(rstd), b(inp), b(w), b(bb), N, C, eps);
        }
    }

    @Override
    public void layernormBackward(
            Buf dinp, Buf dw, Buf db, Buf dout, Buf inp, Buf w, Buf mean, Buf rstd, int N, int C) {
        if (N > 0) {
            dev.launch("layernorm_backward_dx", N, ROW_THREADS, b(dinp), b(dout), b(inp), b(w), b(mean), b(rstd), N, C);
            dev.launch(
                    "layernorm_backward_dwdb",
                    (C + THREADS - 1) / THREADS,
                    THREADS,
                    b(dw),
                    b(db),
                    b(dout),
                    b(inp),
                    b(mean),
                    b(rstd),
                    N,
                    C);
        }
    }

    @Override
    public void rmsnorm(Buf out, Buf rstd, Buf inp, Buf w, int N, int C, float eps) {
        if (N > 0) {
            dev.launch("rmsnorm_forward", N, ROW_THREADS, b(out), b(rstd), b(inp), b(w), N, C, eps);
        }
    }

    @Override
    public void rmsnormBackward(Buf dinp, Buf dw, Buf dout, Buf inp, Buf w, Buf rstd, int N, int C) {
        if (N > 0) {
            dev.launch("rmsnorm_backward_dx", N, ROW_THREADS, b(dinp), b(dout), b(inp), b(w), b(rstd), N, C);
            dev.launch(
                    "rmsnorm_backward_dw", (C + THREADS - 1) / THREADS, THREADS, b(dw), b(dout), b(inp), b(rstd), N, C);
        }
    }

    // ---- attention -------------------------------------------------------------------------

    @Override
    public void rope(Buf x, Buf cos, Buf sin, int B, int T, int NH, int HS, int pos0) {
        dev.launch(
                "rope_rotate",
                grid((long) B * T * NH * (HS / 2)),
                THREADS,
                b(x),
                b(cos),
                b(sin),
                B,
                T,
                NH,
                HS,
                pos0,
                1f);
    }

    @Override
    public void ropeBackward(Buf dx, Buf cos, Buf sin, int B, int T, int NH, int HS, int pos0) {
        dev.launch(
                "rope_rotate",
                grid((long) B * T * NH * (HS / 2)),
                THREADS,
                b(dx),
                b(cos),
                b(sin),
                B,
                T,
                NH,
                HS,
                pos0,
                -1f);
    }

    private static int warpGrid(long rows) {
        return Math.toIntExact((rows + WARPS_PER_BLOCK - 1) / WARPS_PER_BLOCK);
    }

    private static void checkHeads(int NH, int NKV, int HS) {
        if (HS > 256 || NKV <= 0 || NH % NKV != 0) {
            throw new IllegalArgumentException("CUDA attention needs HS <= 256 and NH a multiple of NKV (NH=" + NH
                    + ", NKV=" + NKV + ", HS=" + HS + ")");
        }
    }

    @Override
    public void attention(
            Buf out, Buf att, Buf q, Buf k, Buf v, int B, int T, int TK, int NH, int NKV, int HS, int window) {
        checkHeads(NH, NKV, HS);
        long rows = (long) B * NH * T;
        if (rows == 0) {
            return;
        }
        Object p = att != null ? b(att) : dev.scratch(4 * rows * TK); // inference: probabilities are thrown away
        float scale = (float) (1.0 / Math.sqrt(HS));
        dev.launch(
                "attention_forward",
                warpGrid(rows),
                32 * WARPS_PER_BLOCK,
                b(out),
                p,
                b(q),
                b(k),
                b(v),
                B,
                T,
                TK,
                NH,
                NKV,
                HS,
                window,
                scale);
    }

    @Override
    public void attentionBackward(
            Buf dq, Buf dk, Buf dv, Buf dout, Buf att, Buf q, Buf k, Buf v, int B, int T, int NH, int NKV, int HS) {
        checkHeads(NH, NKV, HS);
        long rows = (long) B * NH * T;
        if (rows == 0) {
            return;
        }
        float scale = (float) (1.0 / Math.sqrt(HS));
        CUdeviceptr rowdot = dev.scratch(4 * rows); // (B, NH, T)
        dev.launch(
                "attention_backward_dq",
                warpGrid(rows),
                32 * WARPS_PER_BLOCK,
                b(dq),
                rowdot,
                b(dout),
                b(att),
                b(k),
                b(v),
                B,
                T,
                NH,
                NKV,
                HS,
                scale);
        dev.launch(
                "attention_backward_dkdv",
                warpGrid((long) B * NKV * T),
                32 * WARPS_PER_BLOCK,
                b(dk),
                b(dv),
                rowdot,
                b(dout),
                b(att),
                b(q),
                b(v),
                B,
                T,
                NH,
                NKV,
                HS,
                scale);
    }

    // ---- elementwise ------------------------------------------------------------------------

    @Override
    public void add(Buf out, Buf a, Buf bb, long n) {
        dev.launch("add_f32", grid(n), THREADS, b(out), b(a), b(bb), n);
    }

    @Override
    public void gelu(Buf out, Buf inp, long n) {
        dev.launch("gelu_forward", grid(n), THREADS, b(out), b(inp), n);
    }

    @Override
    public void geluBackward(Buf dinp, Buf dout, Buf inp, long n) {
        dev.launch("gelu_backward", grid(n), THREADS, b(dinp), b(dout), b(inp), n);
    }

    @Override
    public void swiglu(Buf out, Buf gate, Buf up, long n) {
        dev.launch("swiglu_forward", grid(n), THREADS, b(out), b(gate), b(up), n);
    }

    @Override
    public void swigluBackward(Buf dgate, Buf dup, Buf dout, Buf gate, Buf up, long n) {
        dev.launch("swiglu_backward", grid(n), THREADS, b(dgate), b(dup), b(dout), b(gate), b(up), n);
    }

    // ---- loss ------------------------------------------------------------------------------

    @Override
    public void crossEntropy(Buf losses, Buf dlogits, Buf logits, int[] targets, int N, int V, float dscale) {
        if (N > 0) {
            CUdeviceptr t = ints(targets, N);
            dev.launch("cross_entropy", N, ROW_THREADS, b(losses), b(dlogits), b(logits), t, N, V, dscale);
        }
    }

    // ---- optimizer -------------------------------------------------------------------------

    @Override
    public void adamw(Buf p, Buf m, Buf v, Buf g, long n, float lr, float b1, float b2, float eps, float wd, int step) {
        // the same float rounding of the bias corrections as the reference
        double bc1 = 1 - Math.pow(b1, step);
        double bc2 = 1 - Math.pow(b2, step);
        float stepSize = (float) (lr / bc1);
        float bc2Sqrt = (float) Math.sqrt(bc2);
        dev.launch(
                "adamw_f32",
                grid(n),
                THREADS,
                b(p),
                b(m),
                b(v),
                b(g),
                n,
                1f - lr * wd,
                1f - b1,
                b2,
                1f - b2,
                stepSize,
                bc2Sqrt,
                eps);
    }

    @Override
    public void grokfastEma(Buf g, Buf mu, long n, float alpha, float lambda) {
        dev.launch("grokfast_ema", grid(n), THREADS, b(g), b(mu), n, alpha, lambda);
    }

    @Override
    public double sumSquares(Buf x, long n) {
        dev.bind();
        dev.memsetZero(dbl, 2);
        dev.launch("sum_squares", grid(n), THREADS, dbl, b(x), n);
        double[] h = new double[1];
        dev.dtoh(Pointer.to(h), dbl, 8);
        return h[0];
    }

    @Override
    public void scale(Buf x, long n, float s) {
        dev.launch("scale_f32", grid(n), THREADS, b(x), n, s);
    }

    @Override
    public void axpy(Buf y, Buf x, long n, float a) {
        dev.launch("axpy_f32", grid(n), THREADS, b(y), b(x), n, a);
    }
}
