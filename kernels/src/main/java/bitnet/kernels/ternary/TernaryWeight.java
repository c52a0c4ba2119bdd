package bitnet.kernels.ternary;

import bitnet.io.Packing;
import bitnet.io.TernaryPacking;
import bitnet.kernels.Weight;
import bitnet.kernels.cpu.CpuMatmul;
import bitnet.kernels.cpu.Parallel;
import bitnet.kernels.cpu.gemm.PackB;
import bitnet.kernels.cpu.gemm.Sgemm;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.ForkJoinPool;
import java.util.function.IntConsumer;
import java.util.stream.IntStream;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * A packed ternary weight (rows = OC, cols = C) for CPU inference: 2-bit or base-3 codes read in
 * place (usually a slice of the mapped packed model file) and one FP32 scale per row or per tensor;
 * W[r][c] = scale * q with q in {-1, 0, +1}.
 *
 * <p>Small batches (fewer than {@link #GEMM_MIN_N} input rows: generation) never multiply by a
 * weight: rows are decoded into +1/-1 lane masks and the input is added or subtracted (or, without
 * mask registers, multiplied by the 2-bit code; {@link TernaryRows}). Larger batches (prefill,
 * perplexity) run the batch table kernel where 512-bit vectors are native ({@link #lutBatch}: the
 * same bits per token as batch-1 decoding), else the FP32 SGEMM over ±1/0 panels decoded from the
 * codes. Either way the scale is applied once per row. Two forward
 * variants: FP32 activations ({@link #matmulInto}) and BitNet's W1.58A8 ({@link #matmulA8Into}:
 * per-token absmax int8 activations, integer accumulation). {@link #withA8} makes the CpuMatmul
 * entry point use the latter. Work is split over rows (forward) or columns (backward) on the
 * caller's {@link Parallel} pool when one is passed (the CPU backends do), else on the common
 * ForkJoinPool (the batch path then runs on the calling thread), so the packed segment must be readable from any thread (a shared, global or
 * automatic arena, not a confined one). Scalar twins live in {@link TernaryScalar}. Not trainable: no dweight.
 *
 * <p>Input rows that are not part of a group of four (all of them in batch-1 generation) go
 * through the table-lookup kernels where 512-bit vectors are native: {@link TernaryTriples} for
 * FP32 activations, {@link TernaryLut} for int8 ones. Those read a row-tiled copy of the codes,
 * built on first use and shared by the {@link #withA8} / {@link #withParallel} views: one more
 * 1.78 (triples) or 2 bits (pairs) per weight on the heap.
 */
public final class TernaryWeight implements Weight, CpuMatmul {
    /**
     * From this many input rows on, the FP32 forward is a GEMM: tiles of rows decoded to a ±1/0
     * FP32 panel once per K block and reused by the SGEMM micro-kernel for every input row (the
     * row kernels re-read all N input rows per weight row and fall out of cache: prefill and
     * perplexity ran 3.5x slower than BF16 weights). Below it, the row and table kernels win
     * (2048 x 2048, one AVX2 core, CPU time: N = 8 rows 3.0 ms vs GEMM 6.7; N = 16 8.7 vs 6.4;
     * N = 128 1.8x faster as a GEMM).
     */
    static final int GEMM_MIN_N = Integer.getInteger("bitnet.ternary.gemmMin", 16);
    /**
     * From this many input rows on, where the table kernels run (512-bit vectors native), the FP32
     * forward is {@link #lutBatch}, not the GEMM: on the Zen 4 dev machine its 4 x 4 kernel looks up
     * 80 G weight-rows/s against the SGEMM's 50 G multiply-adds/s (2048 x 2048, one thread).
     */
    static final int BATCH_MIN_N = Integer.getInteger("bitnet.ternary.batchMin", 4);
    /** Below this many weights a product runs on the calling thread (forking costs more than it saves). */
    private static final long PARALLEL_MIN = 1L << 16;
    /** Backward column blocks: a multiple of 4 (byte aligned) and of any vector length. */
    private static final int COL_BLOCK = 512;

    private final Packing packing;
    private final MemorySegment packed; // (rows, bytesPerRow)
    private final float[] scales; // (rows) or (1)
    private final int rows;
    private final int cols;
    private final int bytesPerRow;
    private final boolean a8;
    private final boolean parallel;
    private final LutHolder lut;
    /** Table kernels: -1 where {@link TernaryLut#enabled} says, 0 never, 1 always (tests). */
    private final int tables;
    /** Masked row kernels (else the *Codes ones): {@link TernaryRows#NATIVE_MASKS} unless a test says. */
    private final boolean masked;
    /** Batches of at least this many input rows run as a GEMM over decoded panels (0: never; tests change it). */
    private final int gemmMin;

    /** The lazily built tiled copies, shared by the views of one weight. */
    private static final class LutHolder {
        private volatile TernaryLut lut; // pairs, int8 activations
        private volatile TernaryTriples triples; // FP32 activations

        TernaryLut pairs(TernaryWeight w) {
            TernaryLut t = lut;
            return t != null ? t : buildPairs(w);
        }

        TernaryTriples triples(TernaryWeight w) {
            TernaryTriples t = triples;
            return t != null ? t : buildTriples(w);
        }

        private synchronized TernaryLut buildPairs(TernaryWeight w) {
            if (lut == null) {
                lut = TernaryLut.build(w.rows, w.cols, w::rowSegment, w::rowOffset);
            }
            return lut;
        }

        private synchronized TernaryTriples buildTriples(TernaryWeight w) {
            if (triples == null) {
                triples = TernaryTriples.build(w.rows, w.cols, w::rowSegment, w::rowOffset);
            }
            return triples;
        }
    }

    /** Wraps packed codes (validated: 2-bit code 3 or base-3 byte > 242 is rejected) with scales of length rows or 1. */
    public TernaryWeight(Packing packing, MemorySegment packed, float[] scales, int rows, int cols) {
        this(
                packing,
                packed,
                scales,
                rows,
                cols,
                false,
                true,
                true,
                new LutHolder(),
                -1,
                TernaryRows.NATIVE_MASKS,
                GEMM_MIN_N);
    }

    private TernaryWeight(
            Packing packing,
            MemorySegment packed,
            float[] scales,
            int rows,
            int cols,
            boolean a8,
            boolean parallel,
            boolean check,
            LutHolder lut,
            int tables,
            boolean masked,
            int gemmMin) {
        if (rows < 0 || cols < 0) {
            throw new IllegalArgumentException("bad shape (" + rows + ", " + cols + ")");
        }
        if (scales.length != rows && scales.length != 1) {
            throw new IllegalArgumentException(scales.length + " scales for " + rows + " rows (need rows or 1)");
        }
        long expect = TernaryPacking.packedBytes(packing, rows, cols);
        if (packed.byteSize() != expect) {
            throw new IllegalArgumentException(packed.byteSize() + " packed bytes for (" + rows + ", " + cols + ") "
                    + packing.id() + ", expected " + expect);
        }
        this.packing = packing;
        this.packed = packed;
        this.scales = scales;
        this.rows = rows;
        this.cols = cols;
        this.bytesPerRow = packing.bytesPerRow(cols);
        this.a8 = a8;
        this.parallel = parallel;
        this.lut = lut;
        this.tables = tables;
        this.masked = masked;
        this.gemmMin = gemmMin;
        if (check) {
            validate();
        }
    }

    /** Packs q (-1/0/+1, row-major (rows, cols)) onto the heap. */
    public static TernaryWeight pack(Packing packing, byte[] q, float[] scales, int rows, int cols) {
        return new TernaryWeight(
                packing, MemorySegment.ofArray(TernaryPacking.pack(packing, q, rows, cols)), scales, rows, cols);
    }

    /** The same weight whose {@link #matmulInto} quantizes activations to int8 (W1.58A8) when a8 is true. */
    public TernaryWeight withA8(boolean a8) {
        return a8 == this.a8
                ? this
                : new TernaryWeight(
                        packing, packed, scales, rows, cols, a8, parallel, false, lut, tables, masked, gemmMin);
    }

    /** The same weight, its products run on the calling thread only when parallel is false (benchmarks, nested use). */
    public TernaryWeight withParallel(boolean parallel) {
        return parallel == this.parallel
                ? this
                : new TernaryWeight(
                        packing, packed, scales, rows, cols, a8, parallel, false, lut, tables, masked, gemmMin);
    }

    /** The same weight with the table-lookup kernels forced on or off, whatever the CPU (for tests). */
    TernaryWeight withTables(boolean on) {
        return new TernaryWeight(
                packing, packed, scales, rows, cols, a8, parallel, false, lut, on ? 1 : 0, masked, gemmMin);
    }

    /** The same weight with the masked row kernels (true) or the code-multiplying ones (tests). */
    TernaryWeight withMaskedRows(boolean on) {
        return new TernaryWeight(packing, packed, scales, rows, cols, a8, parallel, false, lut, tables, on, gemmMin);
    }

    /** The same weight taking the GEMM path from minN input rows on (0: never), whatever the default (tests, benchmarks). */
    public TernaryWeight withGemmMin(int minN) {
        return new TernaryWeight(packing, packed, scales, rows, cols, a8, parallel, false, lut, tables, masked, minN);
    }

    private void validate() {
        long i = packing.firstInvalid(packed);
        if (i >= 0) {
            throw new IllegalArgumentException("invalid " + packing.id() + " byte "
                    + (packed.get(ValueLayout.JAVA_BYTE, i) & 0xff) + " at offset " + i);
        }
    }

    @Override
    public int rows() {
        return rows;
    }

    @Override
    public int cols() {
        return cols;
    }

    public Packing packing() {
        return packing;
    }

    public MemorySegment packed() {
        return packed;
    }

    /** True when there is one scale per row (a single row's one scale counts as per row). */
    public boolean perRow() {
        return scales.length == rows;
    }

    public boolean a8() {
        return a8;
    }

    public float scale(int r) {
        return scales.length == 1 ? scales[0] : scales[r];
    }

    /** q[r][c] in {-1, 0, +1}. */
    public int q(int r, int c) {
        long rowOff = (long) r * bytesPerRow;
        if (packing == Packing.TWO_BIT) {
            return TernaryRows.code(packed, rowOff, c) - 1;
        }
        int v = packed.get(ValueLayout.JAVA_BYTE, rowOff + c / 5) & 0xff;
        for (int i = c % 5; i > 0; i--) {
            v /= 3;
        }
        return v % 3 - 1;
    }

    @Override
    public float get(int r, int c) {
        return scale(r) * q(r, c);
    }

    // ---- row access: 2-bit rows in place, base-3 rows decoded to 2-bit in a per-thread buffer ---

    /** 10-bit 2-bit packing of the five base-3 digits of each byte value. */
    private static final short[] BASE3_TO_2BIT = new short[243];

    static {
        for (int v = 0; v < 243; v++) {
            int x = v, bits = 0;
            for (int i = 0; i < 5; i++) {
                bits |= (x % 3) << (2 * i);
                x /= 3;
            }
            BASE3_TO_2BIT[v] = (short) bits;
        }
    }

    /** q of the five base-3 digits of each byte value, as floats: BASE3_Q[5v + i]. */
    private static final float[] BASE3_Q = new float[243 * 5];

    static {
        for (int v = 0; v < 243; v++) {
            for (int i = 0, x = v; i < 5; i++, x /= 3) {
                BASE3_Q[5 * v + i] = x % 3 - 1;
            }
        }
    }

    /** dst[d + i] = q[r][k0 + i] for i in [0, kc): the panel rows of the GEMM path (either packing, no row copy). */
    private void decodeRow(int r, int k0, int kc, float[] dst, int d) {
        long rowOff = (long) r * bytesPerRow;
        if (packing == Packing.TWO_BIT) {
            TernaryRows.decodeF32(packed, rowOff, k0, kc, dst, d);
            return;
        }
        int k = k0, end = k0 + kc;
        while (k < end) {
            int v = packed.get(ValueLayout.JAVA_BYTE, rowOff + k / 5) & 0xff;
            int i = k % 5, n = Math.min(5 - i, end - k);
            System.arraycopy(BASE3_Q, 5 * v + i, dst, d + k - k0, n);
            k += n;
        }
    }

    private static final ThreadLocal<MemorySegment[]> SCRATCH = ThreadLocal.withInitial(() -> new MemorySegment[1]);

    /** The 2-bit segment holding row r and the row's offset in it. */
    private MemorySegment rowSegment(int r) {
        if (packing == Packing.TWO_BIT) {
            return packed;
        }
        MemorySegment[] holder = SCRATCH.get();
        int need = (bytesPerRow * 5 + 3) / 4 + 4;
        if (holder[0] == null || holder[0].byteSize() < need) {
            holder[0] = MemorySegment.ofArray(new byte[Math.max(need, 64)]);
        }
        MemorySegment out = holder[0];
        long src = (long) r * bytesPerRow;
        long acc = 0;
        int nb = 0, o = 0;
        for (int k = 0; k < bytesPerRow; k++) {
            acc |= (long) BASE3_TO_2BIT[packed.get(ValueLayout.JAVA_BYTE, src + k) & 0xff] << nb;
            nb += 10;
            while (nb >= 8) {
                out.set(ValueLayout.JAVA_BYTE, o++, (byte) acc);
                acc >>>= 8;
                nb -= 8;
            }
        }
        if (nb > 0) {
            out.set(ValueLayout.JAVA_BYTE, o, (byte) acc);
        }
        return out;
    }

    private long rowOffset(int r) {
        return packing == Packing.TWO_BIT ? (long) r * bytesPerRow : 0;
    }

    // ---- products --------------------------------------------------------------------------

    private void check(int N, int C, int OC) {
        if (C != cols || OC != rows) {
            throw new IllegalArgumentException(
                    "weight is (" + rows + ", " + cols + "), call says (OC " + OC + ", C " + C + ")");
        }
    }

    /**
     * Runs body(chunk) for chunk in [0, chunks): on par when given, else on the common pool (and the
     * caller), when work is large enough.
     */
    private void parallelFor(Parallel par, int chunks, long work, IntConsumer body) {
        if (!parallel || chunks <= 1 || work < PARALLEL_MIN || (par != null && par.threads() == 1)) {
            for (int i = 0; i < chunks; i++) {
                body.accept(i);
            }
        } else if (par != null) {
            par.forTasks(chunks, body::accept);
        } else {
            IntStream.range(0, chunks).parallel().forEach(body);
        }
    }

    /** About 8 chunks per thread of the pool that will run them: uneven rows balance out. */
    private static int chunks(Parallel par, int units) {
        // a parallel stream runs on the pool's workers plus the calling thread
        int threads = par != null ? par.threads() : ForkJoinPool.getCommonPoolParallelism() + 1;
        return Math.max(1, Math.min(units, threads * 8));
    }

    private boolean tablesOn() {
        return tables > 0 || (tables < 0 && TernaryLut.enabled());
    }

    /** The tiled copy for the int8 table kernel, built on first use; null where the tables are not used. */
    private TernaryLut lut() {
        return tablesOn() ? lut.pairs(this) : null;
    }

    /** The tiled copy for the FP32 table kernel, built on first use; null where the tables are not used. */
    private TernaryTriples triples() {
        return tablesOn() ? lut.triples(this) : null;
    }

    /** out (N, OC) = inp (N, C) · Wᵀ + bias; W1.58A8 when this weight was made {@link #withA8}. */
    @Override
    public void matmulInto(float[] out, float[] inp, float[] bias, int N, int C, int OC) {
        matmulInto(null, out, inp, bias, N, C, OC);
    }

    @Override
    public void matmulInto(Parallel par, float[] out, float[] inp, float[] bias, int N, int C, int OC) {
        if (a8) {
            matmulA8Into(par, out, inp, bias, N, C, OC);
        } else {
            matmulF32Into(par, out, inp, bias, N, C, OC);
        }
    }

    /** out (N, OC) = inp (N, C) · Wᵀ + bias with FP32 activations. */
    public void matmulF32Into(float[] out, float[] inp, float[] bias, int N, int C, int OC) {
        matmulF32Into(null, out, inp, bias, N, C, OC);
    }

    /** {@link #matmulF32Into(float[], float[], float[], int, int, int)} split over par (null: the common pool). */
    public void matmulF32Into(Parallel par, float[] out, float[] inp, float[] bias, int N, int C, int OC) {
        check(N, C, OC);
        TernaryTriples batch =
                N >= BATCH_MIN_N && rows > (TernaryTriples.QUAD - 1) * TernaryTriples.TILE ? triples() : null;
        if (batch != null) {
            lutBatch(par, batch, out, inp, bias, N, C, OC);
            return;
        }
        if (gemmMin > 0 && N >= gemmMin) {
            gemmF32(par, out, inp, bias, N, C, OC);
            return;
        }
        TernaryTriples t = N % 4 != 0 ? triples() : null;
        if (t != null) {
            // groups of four rows through dot4 (below, with none left over), the rest by table lookup
            int n0 = N - N % 4;
            if (n0 > 0) {
                matmulF32Into(par, out, inp, bias, n0, C, OC);
            }
            lutF32(par, t, out, inp, bias, n0, N, C, OC);
            return;
        }
        int chunks = chunks(par, rows);
        int tailN = N % 4; // inputs past the last group of four go through the permuted kernel
        float[][] xT = new float[tailN][C]; // per token: the codes kernel indexes it from 0
        float[] sumFull = new float[tailN]; // Σ x terms of the *Codes kernels
        float[] sx = new float[N - tailN];
        for (int k = 0; k < tailN; k++) {
            if (masked) {
                TernaryRows.permuteF32(inp, (N - tailN + k) * C, C, xT[k], 0);
            } else {
                TernaryRows.permuteF32Codes(inp, (N - tailN + k) * C, C, xT[k], 0);
                sumFull[k] = TernaryRows.fullBlockSum(inp, (N - tailN + k) * C, C);
            }
        }
        for (int n = 0; !masked && n < N - tailN; n++) {
            sx[n] = TernaryRows.fullVectorSum(inp, n * C, C);
        }
        parallelFor(par, chunks, (long) N * C * OC, ch -> {
            int r0 = (int) ((long) rows * ch / chunks), r1 = (int) ((long) rows * (ch + 1) / chunks);
            float[] res = new float[4];
            for (int r = r0; r < r1; r++) {
                MemorySegment w = rowSegment(r);
                long off = rowOffset(r);
                float s = scale(r);
                float b = bias == null ? 0f : bias[r];
                int n = 0;
                for (; n + 4 <= N; n += 4) {
                    if (masked) {
                        TernaryRows.dot4(w, off, inp, n * C, (n + 1) * C, (n + 2) * C, (n + 3) * C, C, res);
                    } else {
                        TernaryRows.dot4Codes(w, off, inp, n * C, (n + 1) * C, (n + 2) * C, (n + 3) * C, C, sx, n, res);
                    }
                    for (int k = 0; k < 4; k++) {
                        out[(n + k) * OC + r] = res[k] * s + b;
                    }
                }
                for (int k = 0; n < N; n++, k++) {
                    float d = masked
                            ? TernaryRows.dotPermuted(w, off, xT[k], 0, inp, n * C, C)
                            : TernaryRows.dotPermutedCodes(w, off, xT[k], sumFull[k], inp, n * C, C);
                    out[n * OC + r] = d * s + b;
                }
            }
        });
    }

    /**
     * The batch path: out = inp · Qᵀ by {@link Sgemm} over panels decoded from the packed codes
     * (exact ±1/0, so the sums are the FP32 sums of ±x in the GEMM's order), then the row scale
     * and bias once per output. On par's threads (null: the calling thread); each output is
     * computed whole by one task, so the thread count never changes a bit.
     */
    private void gemmF32(Parallel par, float[] out, float[] inp, float[] bias, int N, int C, int OC) {
        Sgemm.gemm(
                parallel ? par : null,
                N,
                OC,
                C,
                inp,
                0,
                C,
                false,
                PackB.transposedRows(this::decodeRow),
                out,
                OC,
                true,
                null);
        boolean one = scales.length == 1;
        for (int n = 0; n < N; n++) {
            int o = n * OC;
            for (int r = 0; r < OC; r++) {
                out[o + r] = out[o + r] * (one ? scales[0] : scales[r]) + (bias == null ? 0f : bias[r]);
            }
        }
    }

    /**
     * BitNet W1.58A8: each input row is quantized to int8 with its own absmax
     * (xq = clamp(rint(x * 127 / max(absmax, 1e-5)), -128, 127)), products accumulate in int, and
     * out = acc * scale_row * (absmax / 127) + bias.
     */
    public void matmulA8Into(float[] out, float[] inp, float[] bias, int N, int C, int OC) {
        matmulA8Into(null, out, inp, bias, N, C, OC);
    }

    /** {@link #matmulA8Into(float[], float[], float[], int, int, int)} split over par (null: the common pool). */
    public void matmulA8Into(Parallel par, float[] out, float[] inp, float[] bias, int N, int C, int OC) {
        check(N, C, OC);
        int[] xq = new int[N * C];
        float[] xs = new float[N];
        quantizeActivations(inp, N, C, xq, xs);
        TernaryLut t = lut();
        if (t != null) {
            lutA8(par, t, out, xq, xs, bias, N, C, OC);
            return;
        }
        short[] xT = new short[N * C]; // (N, C) permuted per full block for the int16 kernel
        int[] sumFull = new int[N];
        for (int n = 0; n < N; n++) {
            TernaryRows.permuteInt16(xq, n * C, C, xT, n * C);
            sumFull[n] = masked ? 0 : TernaryRows.fullBlockSumInt(xq, n * C, C);
        }
        int chunks = chunks(par, rows);
        parallelFor(par, chunks, (long) N * C * OC, ch -> {
            int r0 = (int) ((long) rows * ch / chunks), r1 = (int) ((long) rows * (ch + 1) / chunks);
            for (int r = r0; r < r1; r++) {
                MemorySegment w = rowSegment(r);
                long off = rowOffset(r);
                float s = scale(r);
                float b = bias == null ? 0f : bias[r];
                for (int n = 0; n < N; n++) {
                    int d = masked
                            ? TernaryRows.dotInt16(w, off, xT, n * C, xq, n * C, C)
                            : TernaryRows.dotInt16Codes(w, off, xT, n * C, sumFull[n], xq, n * C, C);
                    out[n * OC + r] = d * s * xs[n] + b;
                }
            }
        });
    }

    /** Input rows [n0, n1) by FP32 table lookup: tables per input row, then tiles of 16 output rows per task. */
    private void lutF32(
            Parallel par, TernaryTriples t, float[] out, float[] inp, float[] bias, int n0, int n1, int C, int OC) {
        int nr = n1 - n0, ts = t.tableSize();
        // the tables go in this thread's buffer, taken out of its holder while in use (a nested call
        // on this thread makes its own): a new one per call (up to 240 KB, 56 per token of a
        // 0.54 G model) was a quarter of batch-1 decoding's time
        MemorySegment[] holder = TABLES.get();
        MemorySegment tab = holder[0];
        holder[0] = null;
        if (tab == null || tab.byteSize() < 4L * nr * ts) {
            tab = TernaryTriples.tableBuffer((long) nr * ts);
        }
        for (int k = 0; k < nr; k++) {
            t.table(inp, (n0 + k) * C, tab, k * ts);
        }
        try {
            lutRows(par, t, tab, ts, out, bias, n0, nr, C, OC);
        } finally {
            holder[0] = tab;
        }
    }

    private static final ThreadLocal<MemorySegment[]> TABLES = ThreadLocal.withInitial(() -> new MemorySegment[1]);

    private static final VectorSpecies<Float> FS = FloatVector.SPECIES_PREFERRED;

    /**
     * out[oOff + r] = sums[sOff + r] * scale(r) + (bias == null ? 0 : bias[r]) for r in [r0, r1): a
     * multiply and an add per lane, the scalar expression's bits (as a scalar loop it was 6-8% of
     * batch-1 decoding and of table-path scoring, Zen 4).
     */
    private void finish(float[] sums, int sOff, float[] out, int oOff, int r0, int r1, float[] bias) {
        int r = r0, L = FS.length();
        FloatVector one = scales.length == 1 ? FloatVector.broadcast(FS, scales[0]) : null, zero = FloatVector.zero(FS);
        for (; r + L <= r1; r += L) {
            FloatVector v = FloatVector.fromArray(FS, sums, sOff + r)
                    .mul(one != null ? one : FloatVector.fromArray(FS, scales, r));
            v.add(bias == null ? zero : FloatVector.fromArray(FS, bias, r)).intoArray(out, oOff + r);
        }
        for (; r < r1; r++) {
            out[oOff + r] = sums[sOff + r] * scale(r) + (bias == null ? 0f : bias[r]);
        }
    }

    /** Input rows per block of the batch path: each task builds their tables, KBLOCK groups at a time. */
    private static final int BATCH_ROWS = 16;

    /**
     * Batches by table lookup ({@link TernaryTriples#rows4x4}): for blocks of 16 input rows, pass by
     * pass over {@link TernaryTriples#KBLOCK} groups of columns, the tables of the block's rows for
     * those groups, then every quad of tiles times every quad of input rows, the sums kept in a
     * per-task buffer between passes. Each sum takes its triples in column order from zero, as the
     * batch-1 kernels do: prefill, scoring and decoding give the same bits for a token. Tasks are
     * blocks of input rows times ranges of tile quads (more ranges when there are few blocks), and
     * each output is computed whole by one task, so the thread count never changes a bit.
     */
    private void lutBatch(
            Parallel par, TernaryTriples t, float[] out, float[] inp, float[] bias, int N, int C, int OC) {
        int Q = TernaryTriples.QUAD, KB = TernaryTriples.KBLOCK, TILE = TernaryTriples.TILE;
        int blocks = (N + BATCH_ROWS - 1) / BATCH_ROWS, quads = (t.tiles + Q - 1) / Q;
        int threads = !parallel ? 1 : par != null ? par.threads() : ForkJoinPool.getCommonPoolParallelism() + 1;
        int split = Math.max(1, Math.min(quads, (2 * threads + blocks - 1) / blocks)), chunks = blocks * split;
        int stride = KB * TernaryTriples.TABLE; // ints of table per input row
        parallelFor(par, chunks, (long) N * C * OC, ch -> {
            int blk = ch / split, sp = ch % split;
            int n0 = blk * BATCH_ROWS, nb = Math.min(BATCH_ROWS, N - n0), kq = (nb + Q - 1) / Q;
            int q0 = (int) ((long) quads * sp / split), q1 = (int) ((long) quads * (sp + 1) / split);
            MemorySegment[] holder = TABLES.get();
            MemorySegment tab = holder[0];
            holder[0] = null;
            if (tab == null || tab.byteSize() < 4L * BATCH_ROWS * stride) {
                tab = TernaryTriples.tableBuffer((long) BATCH_ROWS * stride);
            }
            try {
                // sums of quad q, input-row quad k at ((q - q0) * kq + k) * 256: zero, then one pass per K block
                float[] part = new float[(q1 - q0) * kq * Q * Q * TILE];
                tab.asSlice(4L * nb * stride, 4L * (kq * Q - nb) * stride).fill((byte) 0); // padding rows
                for (int g0 = 0; g0 < t.groups; g0 += KB) {
                    int g1 = Math.min(t.groups, g0 + KB);
                    for (int k = 0; k < nb; k++) {
                        t.table(inp, (n0 + k) * C, g0, g1, tab, k * stride);
                    }
                    for (int q = q0; q < q1; q++) {
                        int at = Math.min(q * Q, t.tiles - Q); // a last partial quad runs the last four tiles
                        for (int k = 0; k < kq; k++) {
                            t.rows4x4(
                                    at, g0, g1, tab, k * Q * stride, stride, part, ((q - q0) * kq + k) * Q * Q * TILE);
                        }
                    }
                }
                for (int q = q0; q < q1; q++) {
                    int at = Math.min(q * Q, t.tiles - Q);
                    int r0 = q * Q * TILE, r1 = Math.min(rows, (q + 1) * Q * TILE);
                    for (int k = 0; k < nb; k++) {
                        int p = ((q - q0) * kq + k / Q) * Q * Q * TILE + (k % Q) * Q * TILE - at * TILE;
                        finish(part, p, out, (n0 + k) * OC, r0, r1, bias);
                    }
                }
            } finally {
                holder[0] = tab;
            }
        });
    }

    private void lutRows(
            Parallel par,
            TernaryTriples t,
            MemorySegment tab,
            int ts,
            float[] out,
            float[] bias,
            int n0,
            int nr,
            int C,
            int OC) {
        // chunks of whole units of STREAMS tiles, so that every tile goes through rowsF32x12 whatever
        // the thread count: a last unit of fewer tiles runs the matrix's last STREAMS tiles and keeps
        // its own rows (recomputing a few; the sums are the same). Below STREAMS tiles, rowsF32.
        int S = TernaryTriples.STREAMS, units = (t.tiles + S - 1) / S, chunks = chunks(par, units);
        parallelFor(par, chunks, (long) nr * C * OC, ch -> {
            int t0 = (int) ((long) units * ch / chunks) * S,
                    t1 = Math.min(t.tiles, (int) ((long) units * (ch + 1) / chunks) * S);
            float[] sums = new float[S * TernaryTriples.TILE];
            for (int tile = t0; tile < t1; ) {
                boolean wide = t.tiles >= S;
                int at = tile + S <= t1 || !wide ? tile : t.tiles - S; // the first tile the kernel computes
                int nt = tile + S <= t1 ? S : wide ? t1 - tile : 1; // the tiles whose rows this step writes
                int r0 = tile * TernaryTriples.TILE, r1 = Math.min(rows, r0 + nt * TernaryTriples.TILE);
                int s0 = at * TernaryTriples.TILE;
                for (int k = 0; k < nr; k++) {
                    if (wide) {
                        t.rowsF32x12(at, tab, k * ts, sums, 0);
                    } else {
                        t.rowsF32(tile, tab, k * ts, sums, 0);
                    }
                    finish(sums, -s0, out, (n0 + k) * OC, r0, r1, bias);
                }
                tile += nt;
            }
        });
    }

    /** All input rows by int16 table lookup: exact integer sums, scaled as {@link #matmulA8Into} states. */
    private void lutA8(
            Parallel par, TernaryLut t, float[] out, int[] xq, float[] xs, float[] bias, int N, int C, int OC) {
        int ts = t.tableA8Size();
        short[] tab = new short[N * ts];
        for (int n = 0; n < N; n++) {
            t.tableA8(xq, n * C, tab, n * ts);
        }
        int chunks = chunks(par, t.tiles);
        parallelFor(par, chunks, (long) N * C * OC, ch -> {
            int t0 = (int) ((long) t.tiles * ch / chunks), t1 = (int) ((long) t.tiles * (ch + 1) / chunks);
            int[] sums = new int[TernaryLut.TILE];
            for (int tile = t0; tile < t1; tile++) {
                int r0 = tile * TernaryLut.TILE, r1 = Math.min(rows, r0 + TernaryLut.TILE);
                for (int n = 0; n < N; n++) {
                    t.rowsA8(tile, tab, n * ts, sums, 0);
                    for (int r = r0; r < r1; r++) {
                        out[n * OC + r] = sums[r - r0] * scale(r) * xs[n] + (bias == null ? 0f : bias[r]);
                    }
                }
            }
        });
    }

    /** Per-row absmax int8 quantization; xs[n] = absmax/127 is the factor back to FP32. */
    public static void quantizeActivations(float[] inp, int N, int C, int[] xq, float[] xs) {
        for (int n = 0; n < N; n++) {
            float amax = 0f;
            for (int c = 0; c < C; c++) {
                amax = Math.max(amax, Math.abs(inp[n * C + c]));
            }
            amax = Math.max(amax, 1e-5f);
            float k = 127f / amax;
            for (int c = 0; c < C; c++) {
                float v = (float) Math.rint(inp[n * C + c] * k);
                xq[n * C + c] = (int) Math.max(-128f, Math.min(127f, v));
            }
            xs[n] = amax / 127f;
        }
    }

    /** dinp (N, C) += dout (N, OC) · W: each row adds ±dout·scale into dinp, split over column blocks. */
    @Override
    public void matmulBackwardInput(float[] dinp, float[] dout, int N, int C, int OC) {
        matmulBackwardInput(null, dinp, dout, N, C, OC);
    }

    @Override
    public void matmulBackwardInput(Parallel par, float[] dinp, float[] dout, int N, int C, int OC) {
        check(N, C, OC);
        int blocks = Math.max(1, (C + COL_BLOCK - 1) / COL_BLOCK);
        parallelFor(par, blocks, (long) N * C * OC, blk -> {
            int c0 = blk * COL_BLOCK, c1 = Math.min(C, c0 + COL_BLOCK);
            for (int r = 0; r < rows; r++) {
                MemorySegment w = rowSegment(r);
                long off = rowOffset(r);
                float s = scale(r);
                for (int n = 0; n < N; n++) {
                    float g = dout[n * OC + r] * s;
                    if (g != 0f) {
                        TernaryRows.axpy(dinp, n * C, w, off, g, c0, c1);
                    }
                }
            }
        });
    }
}
