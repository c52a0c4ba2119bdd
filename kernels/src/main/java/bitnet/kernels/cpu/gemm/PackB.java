package bitnet.kernels.cpu.gemm;

import bitnet.io.DType;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * Where the right-hand operand B (K, N) of {@link Sgemm} comes from, and how to copy one block of
 * it into the packed panel layout the micro-kernel reads: panel-major, then k, then NR columns
 * ({@code dst[k * NR + j]}), zero-padded past the last column. Stored weights (F32, F16, BF16 in a
 * MemorySegment) are converted here, one block at a time, so no full FP32 copy of a weight exists.
 * Not a tensor type: only packing.
 */
public abstract class PackB {
    static final ValueLayout.OfFloat LE_F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfShort LE_I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** Packs B[k0 .. k0+kc) x [n0 .. n0+nr) (nr <= NR) into dst[off ..) as kc rows of NR floats. */
    abstract void pack(float[] dst, int off, int k0, int kc, int n0, int nr);

    /**
     * Packs panels [p0, p1) of the block of B at columns [nb, nb + nc), K rows [k0, k0 + kc): panel p
     * at dst[p * kc * NR], the last one zero-padded ({@link #pack} per panel unless a layout does better).
     */
    void packPanels(float[] dst, int p0, int p1, int k0, int kc, int nb, int nc) {
        for (int p = p0; p < p1; p++) {
            pack(dst, p * kc * Sgemm.NR, k0, kc, nb + p * Sgemm.NR, Math.min(Sgemm.NR, nc - p * Sgemm.NR));
        }
    }

    /**
     * Rows of a row-major B per pass over all full panels in {@link #rowMajor}'s packPanels. Packing a
     * 512-row block on a Zen 3, ns per float, median (best) of 150: ld 512: panel by panel 0.90
     * (0.44), 8 rows 0.20 (0.18), 64 rows 0.21 (0.19); ld 2048: 1.11 (0.68), 0.33 (0.23), 0.39
     * (0.31); ld 192: 0.38 (0.28), 0.26 (0.23), 0.24 (0.21).
     */
    static final int ROW_STEP = 8;

    /** B(k, n) = b[k * ld + n]: row-major, the layout of W in dinp = dout·W and of inp in dW = doutᵀ·inp. */
    public static PackB rowMajor(float[] b, int ld) {
        return new PackB() {
            /**
             * ROW_STEP rows at a time across every full panel, so B is read along its rows. Panel by
             * panel, each k step read NR floats ld apart: one cache line per row, on a new page
             * every one or two rows when ld is large, which the hardware prefetchers do not follow
             * (in TN 4096x512x192, where B is a 1 MB block of inp, that packing took ~20% of the
             * JFR samples on a Zen 3).
             */
            @Override
            void packPanels(float[] dst, int p0, int p1, int k0, int kc, int nb, int nc) {
                int full = Math.max(p0, Math.min(p1, nc / Sgemm.NR));
                for (int kk = 0; kk < kc; kk += ROW_STEP) {
                    int ke = Math.min(kc, kk + ROW_STEP);
                    for (int p = p0; p < full; p++) {
                        int src = (k0 + kk) * ld + nb + p * Sgemm.NR, d = p * kc * Sgemm.NR + kk * Sgemm.NR;
                        for (int k = kk; k < ke; k++, src += ld, d += Sgemm.NR) {
                            for (int v = 0; v < Sgemm.NR; v += Sgemm.L) {
                                FloatVector.fromArray(Sgemm.S, b, src + v).intoArray(dst, d + v);
                            }
                        }
                    }
                }
                super.packPanels(dst, full, p1, k0, kc, nb, nc);
            }

            @Override
            void pack(float[] dst, int off, int k0, int kc, int n0, int nr) {
                if (nr == Sgemm.NR) {
                    // a full panel row is NR / L vectors: copied as such (System.arraycopy of 16
                    // floats a row cost ~10% of TN when M, the number of output rows, is small)
                    for (int k = 0, src = k0 * ld + n0, d = off; k < kc; k++, src += ld, d += Sgemm.NR) {
                        for (int v = 0; v < Sgemm.NR; v += Sgemm.L) {
                            FloatVector.fromArray(Sgemm.S, b, src + v).intoArray(dst, d + v);
                        }
                    }
                    return;
                }
                for (int k = 0; k < kc; k++) {
                    int d = off + k * Sgemm.NR;
                    System.arraycopy(b, (k0 + k) * ld + n0, dst, d, nr);
                    Arrays.fill(dst, d + nr, d + Sgemm.NR, 0f);
                }
            }
        };
    }

    /** B(k, n) = b[n * ld + k]: W (OC, C) seen as Wᵀ, the layout of the forward out = inp·Wᵀ. */
    public static PackB transposed(float[] b, int ld) {
        return new PackB() {
            @Override
            void pack(float[] dst, int off, int k0, int kc, int n0, int nr) {
                if (nr < Sgemm.NR) {
                    Arrays.fill(dst, off, off + kc * Sgemm.NR, 0f);
                }
                for (int j = 0; j < nr; j++) {
                    int src = (n0 + j) * ld + k0;
                    int d = off + j;
                    for (int k = 0; k < kc; k++) {
                        dst[d + k * Sgemm.NR] = b[src + k];
                    }
                }
            }
        };
    }

    /** Writes row n of Wᵀ's source, columns [k0, k0 + kc), as FP32 into dst[d ..): a decoder of a compressed weight. */
    @FunctionalInterface
    public interface RowDecoder {
        void decode(int n, int k0, int kc, float[] dst, int d);
    }

    /**
     * B(k, n) = W[n][k] for a W (N, K) whose rows only a decoder can read (packed ternary, int8):
     * each of the panel's rows is decoded once per K block into a per-thread buffer and laid into
     * the panel, so the micro-kernel then runs over every row of A at FP32 speed.
     */
    public static PackB transposedRows(RowDecoder rows) {
        return new PackB() {
            @Override
            void pack(float[] dst, int off, int k0, int kc, int n0, int nr) {
                if (nr < Sgemm.NR) {
                    Arrays.fill(dst, off, off + kc * Sgemm.NR, 0f);
                }
                float[] row = ROW.get();
                if (row.length < kc) {
                    row = new float[kc];
                    ROW.set(row);
                }
                for (int j = 0; j < nr; j++) {
                    rows.decode(n0 + j, k0, kc, row, 0);
                    int d = off + j;
                    for (int k = 0; k < kc; k++) {
                        dst[d + k * Sgemm.NR] = row[k];
                    }
                }
            }
        };
    }

    private static final ThreadLocal<float[]> ROW = ThreadLocal.withInitial(() -> new float[512]);

    /** Row-major B read from stored bytes (dtype F32, F16 or BF16), element (k, n) at index k * ld + n. */
    public static PackB rowMajor(MemorySegment seg, DType dtype, int ld) {
        return new PackB() {
            @Override
            void pack(float[] dst, int off, int k0, int kc, int n0, int nr) {
                for (int k = 0; k < kc; k++) {
                    int d = off + k * Sgemm.NR;
                    convert(seg, dtype, (long) (k0 + k) * ld + n0, dst, d, nr);
                    if (nr < Sgemm.NR) {
                        Arrays.fill(dst, d + nr, d + Sgemm.NR, 0f);
                    }
                }
            }
        };
    }

    /** Transposed B read from stored bytes: element (k, n) at index n * ld + k. */
    public static PackB transposed(MemorySegment seg, DType dtype, int ld) {
        return new PackB() {
            @Override
            void pack(float[] dst, int off, int k0, int kc, int n0, int nr) {
                if (nr < Sgemm.NR) {
                    Arrays.fill(dst, off, off + kc * Sgemm.NR, 0f);
                }
                for (int j = 0; j < nr; j++) {
                    long src = (long) (n0 + j) * ld + k0;
                    int d = off + j;
                    switch (dtype) {
                        case F32 -> {
                            for (int k = 0; k < kc; k++) {
                                dst[d + k * Sgemm.NR] = seg.get(LE_F32, (src + k) * 4);
                            }
                        }
                        case BF16 -> {
                            for (int k = 0; k < kc; k++) {
                                dst[d + k * Sgemm.NR] = Float.intBitsToFloat(seg.get(LE_I16, (src + k) * 2) << 16);
                            }
                        }
                        case F16 -> {
                            for (int k = 0; k < kc; k++) {
                                dst[d + k * Sgemm.NR] = Float.float16ToFloat(seg.get(LE_I16, (src + k) * 2));
                            }
                        }
                        default -> throw new IllegalArgumentException("stored weight dtype " + dtype);
                    }
                }
            }
        };
    }

    /** dst[d .. d+n) = FP32 of the n stored elements starting at element index src. */
    public static void convert(MemorySegment seg, DType dtype, long src, float[] dst, int d, int n) {
        switch (dtype) {
            case F32 -> MemorySegment.copy(seg, LE_F32, src * 4, dst, d, n);
            case BF16 -> {
                // widen 16 shorts to ints and shift: BF16 is the top half of an FP32
                int i = 0;
                for (int bound = BF16_IN.loopBound(n); i < bound; i += BF16_IN.length()) {
                    ((IntVector) ShortVector.fromMemorySegment(BF16_IN, seg, (src + i) * 2, ByteOrder.LITTLE_ENDIAN)
                                    .convertShape(VectorOperators.S2I, BF16_OUT, 0))
                            .lanewise(VectorOperators.LSHL, 16)
                            .reinterpretAsFloats()
                            .intoArray(dst, d + i);
                }
                for (; i < n; i++) {
                    dst[d + i] = Float.intBitsToFloat(seg.get(LE_I16, (src + i) * 2) << 16);
                }
            }
            case F16 -> {
                for (int i = 0; i < n; i++) {
                    dst[d + i] = Float.float16ToFloat(seg.get(LE_I16, (src + i) * 2));
                }
            }
            default -> throw new IllegalArgumentException("stored weight dtype " + dtype);
        }
    }

    /**
     * {@link #convert} without the Vector API, for one row per token (embedding lookups): memory-bound
     * either way, and C1 compiles this loop within milliseconds, where the vector version runs the
     * Vector API's Java fallback until C2 gets to it (~0.3 s of a cold one-window `ppl` of a 15.7M
     * BF16 Llama in JFR samples, Zen 3).
     */
    public static void convertScalar(MemorySegment seg, DType dtype, long src, float[] dst, int d, int n) {
        switch (dtype) {
            case F32 -> MemorySegment.copy(seg, LE_F32, src * 4, dst, d, n);
            case BF16 -> {
                for (int i = 0; i < n; i++) {
                    dst[d + i] = Float.intBitsToFloat(seg.get(LE_I16, (src + i) * 2) << 16);
                }
            }
            case F16 -> {
                for (int i = 0; i < n; i++) {
                    dst[d + i] = Float.float16ToFloat(seg.get(LE_I16, (src + i) * 2));
                }
            }
            default -> throw new IllegalArgumentException("stored weight dtype " + dtype);
        }
    }

    private static final VectorSpecies<Integer> BF16_OUT = IntVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Short> BF16_IN =
            VectorSpecies.of(short.class, VectorShape.forBitSize(BF16_OUT.vectorBitSize() / 2));
}
