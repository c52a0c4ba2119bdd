package bitnet.kernels.ternary;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.function.IntFunction;
import java.util.function.IntToLongFunction;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * Table-lookup matrix-vector kernel for ternary weights with FP32 activations, on 512-bit vectors:
 * every triple of columns gets a 32-entry table of its 27 possible partial sums
 * (q_a x_a + q_b x_b + q_c x_c), and one two-vector permute (vpermi2d) looks up 16 rows' triples at
 * once. The weights live here in a row-tiled copy: tile t holds rows 16t..16t+15, and for each
 * group g of 18 columns one int per row with the 5-bit index (c_a + 3 c_b + 9 c_c, c = q + 1) of
 * each of its six triples (bits 5p..5p+4 for columns 18g+3p..18g+3p+2; bits 30-31 zero), so one
 * vector load brings 16 rows x 18 weights.
 *
 * <p>Per 16 rows x 3 weights: shift, permute, add (the permute wraps the index to 5 bits, so no
 * mask), where the 16-entry pair tables of {@link TernaryLut} took shift, permute, add for 2
 * weights; and the copy is 1.78 bits per weight against 2. Batch-1 decoding reads it from memory,
 * where both count: on the Zen 5 dev machine, 2048 x 2304 products over 100 MB of matrices took
 * 47-64 µs with triples against 83-87 µs with pairs (eight tiles at a time each; best of 7 timings,
 * four runs alternated).
 *
 * <p>Rows past the last full tile and columns past the last full group are padded with q = 0, so
 * there is no tail. Used where {@link TernaryLut#enabled} says (512-bit vectors native). Not
 * threaded: callers split tiles.
 */
final class TernaryTriples {
    static final VectorSpecies<Integer> IS = IntVector.SPECIES_512;
    static final VectorSpecies<Float> FS = FloatVector.SPECIES_512;
    /** Rows per tile (int lanes of a 512-bit vector). */
    static final int TILE = 16;

    private static final ByteOrder NATIVE = ByteOrder.nativeOrder();
    /** Triples per int. */
    static final int TRIPLES = 6;
    /** Columns per group (six triples in an int). */
    static final int GROUP = 3 * TRIPLES;
    /** Floats of table per triple (27 used). */
    static final int ENTRIES = 32;
    /** Floats of table per group of columns. */
    static final int TABLE = TRIPLES * ENTRIES;
    /** Tiles {@link #rowsF32x12} takes at once: the unit callers split work in. */
    static final int STREAMS = 12;
    /** Tiles, and input rows, per register tile of the batch kernel {@link #rows4x4}. */
    static final int QUAD = 4;
    /**
     * Groups of columns per pass of the batch path: the tables of 16 input rows over 16 groups (196
     * KB) are re-read from L2 by every quad of tiles, the codes of a quad (4 KB) from L1 by every
     * quad of input rows. On the Zen 4 dev machine, 2048 x 2048 over 16 input rows: 16 or 32 groups
     * 80 G weight-rows/s, 8 groups 56 (4 x 4 register tile; 8 tiles x 2 rows: 46-55).
     */
    static final int KBLOCK = 16;

    private static final ValueLayout.OfLong LE_LONG =
            ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    /** The triple index c_a + 3 c_b + 9 c_c of six code bits c_a | c_b << 2 | c_c << 4 (code 3 never occurs). */
    private static final int[] INDEX = new int[64];

    static {
        for (int v = 0; v < 64; v++) {
            INDEX[v] = (v & 3) + 3 * (v >>> 2 & 3) + 9 * (v >>> 4);
        }
    }

    /** The index of three zero weights (c = 1, 1, 1): the padding. */
    private static final int ZERO = 1 + 3 + 9;

    // entry e of a triple's table is q_a x_a + q_b x_b + q_c x_c with c_a = e % 3, c_b = e / 3 % 3,
    // c_c = e / 9 (entries 27..31 are never looked up). Masks of table half 0 (entries 0..15; the
    // second half mirrors it, see MIRROR) where weight a, b or c is +1 (P) or -1 (M): constants, so that C2 keeps them
    // in
    // mask registers (masks read from an array, through a helper, ran in the Vector API's Java
    // fallback in some compilations: a third of a decode's time).
    private static final VectorMask<Float> AP0 = mask(0, 0, 2), AM0 = mask(0, 0, 0), BP0 = mask(0, 1, 2);
    private static final VectorMask<Float> BM0 = mask(0, 1, 0), CP0 = mask(0, 2, 2), CM0 = mask(0, 2, 0);
    /** Lane l of the table's second half (entry 16 + l, l <= 10) is entry 10 - l of the first, negated; lanes 11-15 (entries 27-31) are never looked up. */
    private static final VectorShuffle<Float> MIRROR = VectorShuffle.fromOp(FS, l -> l <= 10 ? 10 - l : 0);

    final int rows;
    final int cols;
    final int tiles;
    final int groups;
    /**
     * Int (t * groups + g) * 16 + lane, native order, off the heap and 64-byte aligned: every vector
     * load is one cache line. (An int[] starts 16 bytes into an object with 8-byte alignment, and the
     * copies of one model, allocated one after another, share their offset in a line: batch-1
     * decoding ran at two speeds, 50-60 or 100-130 tokens/s, from one process to the next.)
     */
    private final MemorySegment codes;

    private TernaryTriples(int rows, int cols, MemorySegment codes) {
        this.rows = rows;
        this.cols = cols;
        this.tiles = (rows + TILE - 1) / TILE;
        this.groups = (cols + GROUP - 1) / GROUP;
        this.codes = codes;
    }

    /** Lanes of table half h whose weight k (0: a, 1: b, 2: c) has code c. */
    private static VectorMask<Float> mask(int h, int k, int c) {
        boolean[] b = new boolean[16];
        for (int l = 0; l < 16; l++) {
            int e = 16 * h + l;
            b[l] = e < 27 && (k == 0 ? e % 3 : k == 1 ? e / 3 % 3 : e / 9) == c;
        }
        return VectorMask.fromArray(FS, b, 0);
    }

    /** Ints of the tiled copy for (rows, cols). */
    static long ints(int rows, int cols) {
        return (long) ((rows + TILE - 1) / TILE) * ((cols + GROUP - 1) / GROUP) * TILE;
    }

    /**
     * Builds the tiled copy from 2-bit rows (code = q + 1, weight j in byte j/4 at bit 2(j%4)):
     * rowSeg(r) holds row r at rowOff(r) (it may be a per-call buffer: each row is read completely
     * before the next is asked for). Codes must be valid (0..2), as {@link TernaryWeight} checks.
     */
    static TernaryTriples build(int rows, int cols, IntFunction<MemorySegment> rowSeg, IntToLongFunction rowOff) {
        long n = ints(rows, cols);
        if (n > Integer.MAX_VALUE - 16) {
            throw new IllegalArgumentException(
                    "ternary matrix (" + rows + ", " + cols + ") too large for the table kernels");
        }
        int tiles = (rows + TILE - 1) / TILE, groups = (cols + GROUP - 1) / GROUP;
        int[] codes = new int[(int) n];
        int pad = 0;
        for (int p = 0; p < TRIPLES; p++) {
            pad |= ZERO << (5 * p);
        }
        java.util.Arrays.fill(codes, pad);
        int bytesPerRow = (cols + 3) / 4;
        byte[] c = new byte[groups * GROUP];
        for (int r = 0; r < rows; r++) {
            MemorySegment seg = rowSeg.apply(r);
            long off = rowOff.applyAsLong(r);
            int t = r / TILE, lane = r % TILE, g = 0;
            // whole groups from a 64-bit window: group g's 36 code bits start at bit 36g, and each
            // 6 bits (three 2-bit codes) map to the triple's index through INDEX
            for (; (g + 1) * GROUP <= cols && (36 * g >>> 3) + 8 <= bytesPerRow; g++) {
                long w = seg.get(LE_LONG, off + (36 * g >>> 3)) >>> (36 * g & 7);
                int bits = 0;
                for (int p = 0; p < TRIPLES; p++) {
                    bits |= INDEX[(int) (w >>> (6 * p)) & 63] << (5 * p);
                }
                codes[(t * groups + g) * TILE + lane] = bits;
            }
            if (g < groups) { // the rest, code by code, padded with q = 0
                java.util.Arrays.fill(c, (byte) 1);
                for (int j = g * GROUP; j < cols; j++) {
                    c[j] = (byte) ((seg.get(ValueLayout.JAVA_BYTE, off + (j >>> 2)) >>> (2 * (j & 3))) & 3);
                }
                for (; g < groups; g++) {
                    int bits = 0;
                    for (int p = 0, j = g * GROUP; p < TRIPLES; p++, j += 3) {
                        bits |= (c[j] + 3 * c[j + 1] + 9 * c[j + 2]) << (5 * p);
                    }
                    codes[(t * groups + g) * TILE + lane] = bits;
                }
            }
        }
        MemorySegment seg = Arena.ofAuto().allocate(4L * codes.length, 64);
        MemorySegment.copy(codes, 0, seg, ValueLayout.JAVA_INT, 0, codes.length);
        return new TernaryTriples(rows, cols, seg);
    }

    /** A 64-byte aligned buffer for {@link #table}: ints ints, off the heap, freed when unreachable. */
    static MemorySegment tableBuffer(long ints) {
        return Arena.ofAuto().allocate(4 * ints, 64);
    }

    /** Floats of the tables for one input row. */
    int tableSize() {
        return groups * TABLE;
    }

    /**
     * The triple tables of x[xOff .. xOff + cols) into ints tabOff .. tabOff + tableSize() of tab
     * (native order; 64-byte aligned, as {@link #tableBuffer} makes it, for whole-line loads), as float
     * bits (the permute is an int one). Each entry is ±x_a (exact), then ±x_b, then ±x_c: two
     * roundings at most.
     */
    void table(float[] x, int xOff, MemorySegment tab, int tabOff) {
        table(x, xOff, 0, groups, tab, tabOff);
    }

    /** {@link #table} for groups [g0, g1) only: group g's table at ints tabOff + (g - g0) * TABLE. */
    void table(float[] x, int xOff, int g0, int g1, MemorySegment tab, int tabOff) {
        for (int g = g0; g < g1; g++) {
            for (int p = 0; p < TRIPLES; p++) {
                int j = g * GROUP + 3 * p;
                FloatVector va = FloatVector.broadcast(FS, at(x, xOff, j)),
                        vb = FloatVector.broadcast(FS, at(x, xOff, j + 1)),
                        vc = FloatVector.broadcast(FS, at(x, xOff, j + 2));
                int o = tabOff + (g - g0) * TABLE + p * ENTRIES;
                FloatVector lo = FloatVector.zero(FS)
                        .add(va, AP0)
                        .sub(va, AM0)
                        .add(vb, BP0)
                        .sub(vb, BM0)
                        .add(vc, CP0)
                        .sub(vc, CM0);
                lo.reinterpretAsInts().intoMemorySegment(tab, 4L * o, NATIVE);
                // entry 26 - e has every weight's sign flipped: -entry e, rounded alike (only a zero's
                // sign may differ, which no sum from +0 can show)
                lo.rearrange(MIRROR).neg().reinterpretAsInts().intoMemorySegment(tab, 4L * (o + 16), NATIVE);
            }
        }
    }

    private float at(float[] x, int xOff, int j) {
        return j < cols ? x[xOff + j] : 0f;
    }

    /**
     * Raw sums Σ_j q_j x_j of the 16 rows of tile t (tables at tab[tabOff..]) into out[outOff ..
     * outOff + 16): one accumulator, triples in column order, exactly as {@link #rowsF32x12} sums
     * each of its tiles. The triple loop is a loop, not unrolled by hand (C2's inlining budget).
     */
    void rowsF32(int t, MemorySegment tab, int tabOff, float[] out, int outOff) {
        FloatVector a = FloatVector.zero(FS);
        int base = t * groups * TILE;
        for (int g = 0; g < groups; g++) {
            IntVector v = IntVector.fromMemorySegment(IS, codes, 4L * (base + g * TILE), NATIVE);
            int tb = tabOff + g * TABLE;
            for (int p = 0; p < TRIPLES; p++) {
                int o = tb + p * ENTRIES;
                a = a.add(v.lanewise(VectorOperators.LSHR, 5 * p)
                        .selectFrom(
                                IntVector.fromMemorySegment(IS, tab, 4L * o, NATIVE),
                                IntVector.fromMemorySegment(IS, tab, 4L * (o + 16), NATIVE))
                        .reinterpretAsFloats());
            }
        }
        a.intoArray(out, outOff);
    }

    /**
     * {@link #rowsF32} for tiles t .. t + 11 (out[outOff .. outOff + 192)), the same sums, with twelve
     * code streams in flight: batch-1 decoding is bound by the misses one core keeps in flight, and
     * on the Zen 5 dev machine 1920 x 2048 products over 100 MB of matrices took a median 35-44 µs
     * with twelve streams against 45-68 µs with eight (four runs alternated; sixteen streams, tables
     * held in registers, left C2 with a method it compiled into the Vector API's Java fallback in 3
     * of 4 runs). Twelve accumulators, twelve code vectors and two table halves: 26 of 32 registers.
     */
    void rowsF32x12(int t, MemorySegment tab, int tabOff, float[] out, int outOff) {
        FloatVector a0 = FloatVector.zero(FS),
                a1 = a0,
                a2 = a0,
                a3 = a0,
                a4 = a0,
                a5 = a0,
                a6 = a0,
                a7 = a0,
                a8 = a0,
                a9 = a0,
                a10 = a0,
                a11 = a0;
        long stride = 4L * groups * TILE, base = t * stride;
        for (int g = 0; g < groups; g++) {
            long o = base + 4L * g * TILE;
            IntVector v0 = IntVector.fromMemorySegment(IS, codes, o, NATIVE),
                    v1 = IntVector.fromMemorySegment(IS, codes, o + stride, NATIVE),
                    v2 = IntVector.fromMemorySegment(IS, codes, o + 2 * stride, NATIVE),
                    v3 = IntVector.fromMemorySegment(IS, codes, o + 3 * stride, NATIVE),
                    v4 = IntVector.fromMemorySegment(IS, codes, o + 4 * stride, NATIVE),
                    v5 = IntVector.fromMemorySegment(IS, codes, o + 5 * stride, NATIVE),
                    v6 = IntVector.fromMemorySegment(IS, codes, o + 6 * stride, NATIVE),
                    v7 = IntVector.fromMemorySegment(IS, codes, o + 7 * stride, NATIVE),
                    v8 = IntVector.fromMemorySegment(IS, codes, o + 8 * stride, NATIVE),
                    v9 = IntVector.fromMemorySegment(IS, codes, o + 9 * stride, NATIVE),
                    v10 = IntVector.fromMemorySegment(IS, codes, o + 10 * stride, NATIVE),
                    v11 = IntVector.fromMemorySegment(IS, codes, o + 11 * stride, NATIVE);
            int tb = tabOff + g * TABLE;
            for (int p = 0; p < TRIPLES; p++) {
                IntVector lo = IntVector.fromMemorySegment(IS, tab, 4L * (tb + p * ENTRIES), NATIVE),
                        hi = IntVector.fromMemorySegment(IS, tab, 4L * (tb + p * ENTRIES + 16), NATIVE);
                int s = 5 * p;
                a0 = a0.add(
                        v0.lanewise(VectorOperators.LSHR, s).selectFrom(lo, hi).reinterpretAsFloats());
                a1 = a1.add(
                        v1.lanewise(VectorOperators.LSHR, s).selectFrom(lo, hi).reinterpretAsFloats());
                a2 = a2.add(
                        v2.lanewise(VectorOperators.LSHR, s).selectFrom(lo, hi).reinterpretAsFloats());
                a3 = a3.add(
                        v3.lanewise(VectorOperators.LSHR, s).selectFrom(lo, hi).reinterpretAsFloats());
                a4 = a4.add(
                        v4.lanewise(VectorOperators.LSHR, s).selectFrom(lo, hi).reinterpretAsFloats());
                a5 = a5.add(
                        v5.lanewise(VectorOperators.LSHR, s).selectFrom(lo, hi).reinterpretAsFloats());
                a6 = a6.add(
                        v6.lanewise(VectorOperators.LSHR, s).selectFrom(lo, hi).reinterpretAsFloats());
                a7 = a7.add(
                        v7.lanewise(VectorOperators.LSHR, s).selectFrom(lo, hi).reinterpretAsFloats());
                a8 = a8.add(
                        v8.lanewise(VectorOperators.LSHR, s).selectFrom(lo, hi).reinterpretAsFloats());
                a9 = a9.add(
                        v9.lanewise(VectorOperators.LSHR, s).selectFrom(lo, hi).reinterpretAsFloats());
                a10 = a10.add(
                        v10.lanewise(VectorOperators.LSHR, s).selectFrom(lo, hi).reinterpretAsFloats());
                a11 = a11.add(
                        v11.lanewise(VectorOperators.LSHR, s).selectFrom(lo, hi).reinterpretAsFloats());
            }
        }
        a0.intoArray(out, outOff);
        a1.intoArray(out, outOff + TILE);
        a2.intoArray(out, outOff + 2 * TILE);
        a3.intoArray(out, outOff + 3 * TILE);
        a4.intoArray(out, outOff + 4 * TILE);
        a5.intoArray(out, outOff + 5 * TILE);
        a6.intoArray(out, outOff + 6 * TILE);
        a7.intoArray(out, outOff + 7 * TILE);
        a8.intoArray(out, outOff + 8 * TILE);
        a9.intoArray(out, outOff + 9 * TILE);
        a10.intoArray(out, outOff + 10 * TILE);
        a11.intoArray(out, outOff + 11 * TILE);
    }

    /**
     * The batch kernel: raw sums of tiles t .. t + 3 for four input rows over groups [g0, g1),
     * continuing the sums in part[pOff .. pOff + 256) (input row k, tile i at (4k + i) * 16): each
     * code vector is shifted once per triple for four rows' tables, and each table half is loaded
     * once for four tiles. Sixteen accumulators, four codes, four shifted codes, two table halves.
     * The tables of input row k, group g, start at ints tabOff + k * tabStride + (g - g0) * TABLE.
     * Every sum takes the triples in column order from the value in part, so passes over consecutive
     * group ranges from zero give the bits of {@link #rowsF32}.
     */
    void rows4x4(int t, int g0, int g1, MemorySegment tab, int tabOff, int tabStride, float[] part, int pOff) {
        FloatVector a00 = FloatVector.fromArray(FS, part, pOff),
                a01 = FloatVector.fromArray(FS, part, pOff + 16),
                a02 = FloatVector.fromArray(FS, part, pOff + 32),
                a03 = FloatVector.fromArray(FS, part, pOff + 48),
                a10 = FloatVector.fromArray(FS, part, pOff + 64),
                a11 = FloatVector.fromArray(FS, part, pOff + 80),
                a12 = FloatVector.fromArray(FS, part, pOff + 96),
                a13 = FloatVector.fromArray(FS, part, pOff + 112),
                a20 = FloatVector.fromArray(FS, part, pOff + 128),
                a21 = FloatVector.fromArray(FS, part, pOff + 144),
                a22 = FloatVector.fromArray(FS, part, pOff + 160),
                a23 = FloatVector.fromArray(FS, part, pOff + 176),
                a30 = FloatVector.fromArray(FS, part, pOff + 192),
                a31 = FloatVector.fromArray(FS, part, pOff + 208),
                a32 = FloatVector.fromArray(FS, part, pOff + 224),
                a33 = FloatVector.fromArray(FS, part, pOff + 240);
        long stride = 4L * groups * TILE, base = t * stride, ts = 4L * tabStride;
        for (int g = g0; g < g1; g++) {
            long o = base + 4L * g * TILE;
            IntVector c0 = IntVector.fromMemorySegment(IS, codes, o, NATIVE),
                    c1 = IntVector.fromMemorySegment(IS, codes, o + stride, NATIVE),
                    c2 = IntVector.fromMemorySegment(IS, codes, o + 2 * stride, NATIVE),
                    c3 = IntVector.fromMemorySegment(IS, codes, o + 3 * stride, NATIVE);
            long tb = 4L * (tabOff + (g - g0) * TABLE);
            for (int p = 0; p < TRIPLES; p++) {
                int s = 5 * p;
                IntVector v0 = c0.lanewise(VectorOperators.LSHR, s),
                        v1 = c1.lanewise(VectorOperators.LSHR, s),
                        v2 = c2.lanewise(VectorOperators.LSHR, s),
                        v3 = c3.lanewise(VectorOperators.LSHR, s);
                long q = tb + 4L * p * ENTRIES;
                IntVector lo = IntVector.fromMemorySegment(IS, tab, q, NATIVE),
                        hi = IntVector.fromMemorySegment(IS, tab, q + 64, NATIVE);
                a00 = a00.add(v0.selectFrom(lo, hi).reinterpretAsFloats());
                a01 = a01.add(v1.selectFrom(lo, hi).reinterpretAsFloats());
                a02 = a02.add(v2.selectFrom(lo, hi).reinterpretAsFloats());
                a03 = a03.add(v3.selectFrom(lo, hi).reinterpretAsFloats());
                lo = IntVector.fromMemorySegment(IS, tab, q + ts, NATIVE);
                hi = IntVector.fromMemorySegment(IS, tab, q + ts + 64, NATIVE);
                a10 = a10.add(v0.selectFrom(lo, hi).reinterpretAsFloats());
                a11 = a11.add(v1.selectFrom(lo, hi).reinterpretAsFloats());
                a12 = a12.add(v2.selectFrom(lo, hi).reinterpretAsFloats());
                a13 = a13.add(v3.selectFrom(lo, hi).reinterpretAsFloats());
                lo = IntVector.fromMemorySegment(IS, tab, q + 2 * ts, NATIVE);
                hi = IntVector.fromMemorySegment(IS, tab, q + 2 * ts + 64, NATIVE);
                a20 = a20.add(v0.selectFrom(lo, hi).reinterpretAsFloats());
                a21 = a21.add(v1.selectFrom(lo, hi).reinterpretAsFloats());
                a22 = a22.add(v2.selectFrom(lo, hi).reinterpretAsFloats());
                a23 = a23.add(v3.selectFrom(lo, hi).reinterpretAsFloats());
                lo = IntVector.fromMemorySegment(IS, tab, q + 3 * ts, NATIVE);
                hi = IntVector.fromMemorySegment(IS, tab, q + 3 * ts + 64, NATIVE);
                a30 = a30.add(v0.selectFrom(lo, hi).reinterpretAsFloats());
                a31 = a31.add(v1.selectFrom(lo, hi).reinterpretAsFloats());
                a32 = a32.add(v2.selectFrom(lo, hi).reinterpretAsFloats());
                a33 = a33.add(v3.selectFrom(lo, hi).reinterpretAsFloats());
            }
        }
        a00.intoArray(part, pOff);
        a01.intoArray(part, pOff + 16);
        a02.intoArray(part, pOff + 32);
        a03.intoArray(part, pOff + 48);
        a10.intoArray(part, pOff + 64);
        a11.intoArray(part, pOff + 80);
        a12.intoArray(part, pOff + 96);
        a13.intoArray(part, pOff + 112);
        a20.intoArray(part, pOff + 128);
        a21.intoArray(part, pOff + 144);
        a22.intoArray(part, pOff + 160);
        a23.intoArray(part, pOff + 176);
        a30.intoArray(part, pOff + 192);
        a31.intoArray(part, pOff + 208);
        a32.intoArray(part, pOff + 224);
        a33.intoArray(part, pOff + 240);
    }
}
