package bitnet.kernels.cpu;

import bitnet.kernels.Weight;
import bitnet.kernels.cpu.gemm.PackB;
import bitnet.kernels.cpu.gemm.Sgemm;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * An int8 matrix with one FP32 scale per row, W[r][c] = scale[r] * q[r][c] (the compress
 * output's embeddings), or one per block of {@code group} elements along a row (the int4
 * embeddings, llama.cpp's Q4_0 values: q - 8 in [-8, 7] with the block's d). Its products read a quarter
 * of the bytes of the FP32 matrix: for the tied embedding / LM head of a small model, the largest
 * matrix of batch-1 decoding, that is most of a token's time. Rows of int8 are widened to floats
 * in registers; out = scale[r] * Σ_c x_c q[r][c] (+ bias), so results differ from a product with
 * the dequantized matrix only by FP32 rounding. The bytes are copied off the heap (up to
 * {@link #MAX_BYTES}).
 */
public final class Int8Weight implements Weight, CpuMatmul {
    private static final VectorSpecies<Float> FS = FloatVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Byte> BS =
            VectorSpecies.of(byte.class, VectorShape.forBitSize(FS.vectorBitSize() / 4));
    private static final int L = FS.length();

    /**
     * A copy of the bytes off the heap, 64-byte aligned: the products load from it 1.4x faster than
     * from a mapped segment (83 vs 120 µs for 8192 x 192 on the dev machine), and the mapped pages are
     * then never touched. Not a byte[]: the collector moves those, and the head of batch-1 decoding
     * ran at another speed after each move (its offset in a cache line changed).
     */
    private final MemorySegment heap;

    /** One per row (group == cols) or per block of group elements of a row, in row-major order. */
    private final float[] scales;

    private final int rows;
    private final int cols;
    private final int group;

    /** From this many input rows on, products run as a GEMM over dequantized panels (the row dots re-read every input row per weight row). */
    static final int GEMM_MIN_N = Integer.getInteger("bitnet.int8.gemmMin", 16);

    /** Largest matrix (bytes) this type holds: its offsets are ints. */
    public static final long MAX_BYTES = Integer.MAX_VALUE - 16;

    /** Whether blocks of group elements can have a scale each: a whole number of vectors (always on x86-64 and NEON). */
    public static boolean supportsGroup(int group) {
        return group > 0 && group % L == 0;
    }

    /** q: rows * cols bytes, row-major (copied); scales: one per row. */
    public Int8Weight(MemorySegment q, float[] scales, int rows, int cols) {
        this(q, scales, rows, cols, cols);
    }

    /**
     * q: rows * cols bytes, row-major (copied); scales: one per block of group elements of a row
     * (group divides cols and is a multiple of the vector length, or equals cols: one per row).
     */
    public Int8Weight(MemorySegment q, float[] scales, int rows, int cols, int group) {
        if (rows < 0
                || cols < 0
                || group <= 0
                || cols % group != 0
                || (group != cols && group % L != 0)
                || q.byteSize() != (long) rows * cols
                || scales.length != (long) rows * (cols / group)
                || q.byteSize() > MAX_BYTES) {
            throw new IllegalArgumentException("int8 weight (" + rows + ", " + cols + ") with " + q.byteSize()
                    + " bytes and " + scales.length + " scales of groups of " + group + " (at most " + MAX_BYTES
                    + " bytes)");
        }
        this.heap = Arena.ofAuto().allocate(q.byteSize(), 64);
        MemorySegment.copy(q, 0, heap, 0, q.byteSize());
        this.scales = scales;
        this.rows = rows;
        this.cols = cols;
        this.group = group;
    }

    @Override
    public int rows() {
        return rows;
    }

    @Override
    public int cols() {
        return cols;
    }

    @Override
    public float get(int r, int c) {
        int i = r * cols + c;
        return scales[i / group] * heap.get(ValueLayout.JAVA_BYTE, i);
    }

    /** dst[d .. d + cols) = row r dequantized (scale * q, the values of the FP32 copy bit for bit). */
    public void row(int r, float[] dst, int d) {
        rowSlice(r, 0, cols, dst, d);
    }

    /** dst[d + i] = scale * q[r][k0 + i] for i in [0, kc): a slice of {@link #row}, bit for bit. */
    private void rowSlice(int r, int k0, int kc, float[] dst, int d) {
        int base = r * cols + k0;
        for (int c = 0; c < kc; ) {
            // one scale's run: the whole slice per row, up to a block's end per block
            int i = base + c, end = Math.min(kc, c + group - i % group);
            float s = scales[i / group];
            for (; c + L <= end; c += L) {
                widen(heap, base + c).mul(s).intoArray(dst, d + c);
            }
            for (; c < end; c++) {
                dst[d + c] = s * heap.get(ValueLayout.JAVA_BYTE, base + c);
            }
        }
    }

    /**
     * Σ_c x[xo + c] W[r][c] with blocks of scales: each vector of q times its block's scale (the
     * dequantized values, exact) into four FMA chains.
     */
    private float dotBlocks(float[] x, int xo, int r) {
        int base = r * cols;
        FloatVector a0 = FloatVector.zero(FS), a1 = a0, a2 = a0, a3 = a0;
        int c = 0, end = cols - cols % (4 * L);
        for (; c < end; c += 4 * L) {
            int i = base + c;
            a0 = widen(heap, i).mul(scales[i / group]).fma(FloatVector.fromArray(FS, x, xo + c), a0);
            a1 = widen(heap, i + L).mul(scales[(i + L) / group]).fma(FloatVector.fromArray(FS, x, xo + c + L), a1);
            a2 = widen(heap, i + 2 * L)
                    .mul(scales[(i + 2 * L) / group])
                    .fma(FloatVector.fromArray(FS, x, xo + c + 2 * L), a2);
            a3 = widen(heap, i + 3 * L)
                    .mul(scales[(i + 3 * L) / group])
                    .fma(FloatVector.fromArray(FS, x, xo + c + 3 * L), a3);
        }
        for (; c < cols; c += L) { // group % L == 0, so cols % L == 0
            int i = base + c;
            a0 = widen(heap, i).mul(scales[i / group]).fma(FloatVector.fromArray(FS, x, xo + c), a0);
        }
        return DetMath.sumLanes(a0.add(a1).add(a2.add(a3)));
    }

    /**
     * Σ_c x[c] q[r][c], four FMA chains (with two, the 32000 x 2048 LM head of batch-1 decoding
     * ran 1.3x slower on a Zen 3: the FMA latency, not memory, was the limit). x is indexed from 0
     * and the loop's limit is also bounded by its length (the same limit while x.length >= cols):
     * C2 then removes the bounds checks on x from the loop, which it kept for an offset into a
     * (tokens, C) array (1.6x in cache, ~8% streaming the head from memory, Zen 3).
     */
    private float dot(float[] x, int r) {
        int base = r * cols;
        FloatVector a0 = FloatVector.zero(FS), a1 = a0, a2 = a0, a3 = a0;
        int c = 0, end = Math.min(cols - cols % (4 * L), x.length - 4 * L + 1);
        for (; c < end; c += 4 * L) {
            a0 = widen(heap, base + c).fma(FloatVector.fromArray(FS, x, c), a0);
            a1 = widen(heap, base + c + L).fma(FloatVector.fromArray(FS, x, c + L), a1);
            a2 = widen(heap, base + c + 2 * L).fma(FloatVector.fromArray(FS, x, c + 2 * L), a2);
            a3 = widen(heap, base + c + 3 * L).fma(FloatVector.fromArray(FS, x, c + 3 * L), a3);
        }
        for (; c + L <= cols; c += L) {
            a0 = widen(heap, base + c).fma(FloatVector.fromArray(FS, x, c), a0);
        }
        float s = DetMath.sumLanes(a0.add(a1).add(a2.add(a3)));
        for (; c < cols; c++) {
            s += x[c] * heap.get(ValueLayout.JAVA_BYTE, base + c);
        }
        return s;
    }

    private static FloatVector widen(MemorySegment a, int off) {
        return (FloatVector) ByteVector.fromMemorySegment(BS, a, off, ByteOrder.nativeOrder())
                .convertShape(VectorOperators.B2F, FS, 0);
    }

    @Override
    public void matmulInto(float[] out, float[] inp, float[] bias, int N, int C, int OC) {
        matmulInto(null, out, inp, bias, N, C, OC);
    }

    /** out (N, OC) = inp (N, C) · Wᵀ + bias, rows of W split over par (null: this thread). */
    @Override
    public void matmulInto(Parallel par, float[] out, float[] inp, float[] bias, int N, int C, int OC) {
        check(C, OC);
        if (N >= GEMM_MIN_N) {
            // many input rows (prefill, perplexity): dequantized panels through the SGEMM, whose
            // sums then match the dequantized matrix's product exactly
            Sgemm.gemm(par, N, OC, C, inp, 0, C, false, PackB.transposedRows(this::rowSlice), out, OC, true, bias);
            return;
        }
        // each input row from index 0 for dot() (the first is inp itself): a copy of C floats per
        // row and call, against OC dot products
        float[][] x = new float[N][];
        for (int n = 0; n < N; n++) {
            x[n] = n == 0 ? inp : Arrays.copyOfRange(inp, n * C, n * C + C);
        }
        Parallel.Chunks body = (ch, lo, hi) -> {
            for (int r = lo; r < hi; r++) {
                float b = bias == null ? 0f : bias[r];
                if (group != cols) {
                    for (int n = 0; n < N; n++) {
                        out[n * OC + r] = dotBlocks(inp, n * C, r) + b;
                    }
                    continue;
                }
                float s = scales[r];
                for (int n = 0; n < N; n++) {
                    out[n * OC + r] = dot(x[n], r) * s + b;
                }
            }
        };
        if (par == null) {
            body.run(0, 0, OC);
        } else {
            int minRows = (int) Math.max(16, Math.min(OC, Parallel.MIN_WORK / Math.max(1L, (long) N * C)));
            par.forChunks(OC, minRows, body);
        }
    }

    @Override
    public void matmulBackwardInput(float[] dinp, float[] dout, int N, int C, int OC) {
        matmulBackwardInput(null, dinp, dout, N, C, OC);
    }

    /** dinp (N, C) += dout (N, OC) · W, input rows split over par (null: this thread). */
    @Override
    public void matmulBackwardInput(Parallel par, float[] dinp, float[] dout, int N, int C, int OC) {
        check(C, OC);
        Parallel.Chunks body = (ch, lo, hi) -> {
            float[] w = new float[C];
            for (int r = 0; r < OC; r++) {
                row(r, w, 0);
                for (int n = lo; n < hi; n++) {
                    float g = dout[n * OC + r];
                    if (g != 0f) {
                        VectorMath.axpy(dinp, n * C, w, 0, C, g);
                    }
                }
            }
        };
        if (par == null) {
            body.run(0, 0, N);
        } else {
            par.forChunks(N, 1, body);
        }
    }

    private void check(int C, int OC) {
        if (C != cols || OC != rows) {
            throw new IllegalArgumentException(
                    "weight is (" + rows + ", " + cols + "), call says (OC " + OC + ", C " + C + ")");
        }
    }
}
