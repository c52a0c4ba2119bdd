package bitnet.kernels.ternary;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.function.IntFunction;
import java.util.function.IntToLongFunction;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Table-lookup matrix-vector kernel for 2-bit ternary weights with int8 activations (W1.58A8; the
 * T-MAC idea, on 512-bit vectors): instead of decoding each weight, every pair of columns gets a
 * table of its possible partial sums, (q_a x_a + q_b x_b) for the 16 values of the pair's two 2-bit
 * codes, and one vector permute looks up 32 rows' pairs at once. The weights live here in a
 * row-tiled copy of the 2-bit codes: tile t holds rows 16t..16t+15, and for each group g of 16
 * columns one int per row (the row's 32 code bits of columns 16g..16g+15, exactly the 4 bytes the
 * row-major packing stores there), so one vector load brings 16 rows x 16 weights.
 *
 * <p>The int lanes are read as 32 short lanes (low half: columns 0-7, high half: 8-15 of the
 * group); a 32-entry int16 table holds pair p in entries 0-15 and pair p+4 in 16-31, and odd lanes
 * add 16 to their index. Sums are exact integers: int16 partial sums, widened every {@link #FLUSH}
 * groups, so the result equals the scalar twin's bit for bit. (FP32 activations have their own
 * tables of triples: {@link TernaryTriples}.)
 *
 * <p>Rows past the last full tile and columns past the last full group are padded with code 1 (q =
 * 0), so there is no tail code. The permutes only pay off where 512-bit vectors are native (vpermw,
 * vpermi2d); {@link #enabled} says whether to use the table paths ({@code -Dbitnet.ternary.lut=
 * auto|on|off}, auto: when the preferred vector is 512 bits). Not threaded: callers split tiles.
 *
 * <p>Measured on the AMD EPYC (Zen 4) dev machine, 4096 x 4096, one thread, by a prototype of
 * these loops: A8 227 µs (int16 decode: 439 µs).
 */
final class TernaryLut {
    static final VectorSpecies<Integer> IS = IntVector.SPECIES_512;
    static final VectorSpecies<Short> SS = ShortVector.SPECIES_512;
    /** Rows per tile (int lanes of a 512-bit vector). */
    static final int TILE = 16;
    /** Columns per group (2-bit codes in an int). */
    static final int GROUP = 16;
    /** Shorts of table per group of columns. */
    static final int TABLE = 128;
    /**
     * Groups between widenings of the int16 sums: each of the two accumulators takes 2 lookups of
     * at most |x_a| + |x_b| <= 256 per group, and 63 * 2 * 256 = 32256 < 2^15.
     */
    static final int FLUSH = 63;

    private static final ValueLayout.OfInt LE_INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    /** 16 codes of 1 (q = 0): the padding. */
    private static final int ZERO_CODES = 0x55555555;

    private static final boolean ENABLED = decide(System.getProperty("bitnet.ternary.lut", "auto"));

    // table patterns: entry e of a pair's table is q(e & 3) x_a + q(e >> 2) x_b with q(c) = c - 1
    // (q(3) = 0), built with adds and subtracts under these masks: lanes where a code is 2 (+1) or 0 (-1)
    private static final VectorMask<Short> SA_PLUS = smask(0, 2),
            SA_MINUS = smask(0, 0),
            SB_PLUS = smask(2, 2),
            SB_MINUS = smask(2, 0);
    /** 16 in the odd short lanes: they index the upper half of the A8 table. */
    private static final ShortVector ODD16 = ShortVector.fromArray(SS, odd16(), 0);

    private static final VectorMask<Short> UPPER = SS.indexInRange(-16, 16); // lanes 16..31

    final int rows;
    final int cols;
    final int tiles;
    final int groups;
    /** codes[(t * groups + g) * 16 + lane]. */
    private final int[] codes;

    private TernaryLut(int rows, int cols, int[] codes) {
        this.rows = rows;
        this.cols = cols;
        this.tiles = (rows + TILE - 1) / TILE;
        this.groups = (cols + GROUP - 1) / GROUP;
        this.codes = codes;
    }

    static boolean enabled() {
        return ENABLED;
    }

    private static boolean decide(String v) {
        return switch (v) {
            case "on" -> true;
            case "off" -> false;
            default -> jdk.incubator.vector.FloatVector.SPECIES_PREFERRED.vectorBitSize() >= 512;
        };
    }

    /** Lanes l (of 32, entry e = l & 15) whose code at bit offset shift is c. */
    private static VectorMask<Short> smask(int shift, int c) {
        boolean[] m = new boolean[32];
        for (int l = 0; l < 32; l++) {
            m[l] = (((l & 15) >> shift) & 3) == c;
        }
        return VectorMask.fromArray(SS, m, 0);
    }

    private static short[] odd16() {
        short[] p = new short[32];
        for (int l = 1; l < 32; l += 2) {
            p[l] = 16;
        }
        return p;
    }

    /** Bytes of the tiled copy for (rows, cols). */
    static long bytes(int rows, int cols) {
        return 4L * ((rows + TILE - 1) / TILE) * ((cols + GROUP - 1) / GROUP) * TILE;
    }

    /**
     * Builds the tiled copy from 2-bit rows: rowSeg(r) holds row r at rowOff(r) (it may be a
     * per-call buffer: each row is read completely before the next is asked for).
     */
    static TernaryLut build(int rows, int cols, IntFunction<MemorySegment> rowSeg, IntToLongFunction rowOff) {
        long n = bytes(rows, cols) / 4;
        if (n > Integer.MAX_VALUE - 16) {
            throw new IllegalArgumentException(
                    "ternary matrix (" + rows + ", " + cols + ") too large for the table kernels");
        }
        int tiles = (rows + TILE - 1) / TILE, groups = (cols + GROUP - 1) / GROUP;
        int[] codes = new int[(int) n];
        java.util.Arrays.fill(codes, ZERO_CODES);
        int fullGroups = cols / GROUP;
        for (int r = 0; r < rows; r++) {
            MemorySegment seg = rowSeg.apply(r);
            long off = rowOff.applyAsLong(r);
            int t = r / TILE, lane = r % TILE;
            for (int g = 0; g < fullGroups; g++) {
                codes[(t * groups + g) * TILE + lane] = seg.get(LE_INT, off + 4L * g);
            }
            if (fullGroups < groups) {
                int bits = ZERO_CODES;
                for (int j = fullGroups * GROUP, k = 0; j < cols; j++, k++) {
                    int c = (seg.get(ValueLayout.JAVA_BYTE, off + (j >>> 2)) >>> (2 * (j & 3))) & 3;
                    bits = (bits & ~(3 << (2 * k))) | (c << (2 * k));
                }
                codes[(t * groups + fullGroups) * TILE + lane] = bits;
            }
        }
        return new TernaryLut(rows, cols, codes);
    }

    // ---- W1.58A8 ---------------------------------------------------------------------------

    /** Shorts of the A8 tables for one input row. */
    int tableA8Size() {
        return groups * TABLE;
    }

    /** The pair tables of int8 activations xq[xOff .. xOff + cols) (each in [-128, 127]) into tab[tabOff..]. */
    void tableA8(int[] xq, int xOff, short[] tab, int tabOff) {
        for (int g = 0; g < groups; g++) {
            for (int p = 0; p < 4; p++) {
                int j = g * GROUP + 2 * p, k = j + 8;
                ShortVector xa = ShortVector.broadcast(SS, at(xq, xOff, j)).blend(at(xq, xOff, k), UPPER);
                ShortVector xb = ShortVector.broadcast(SS, at(xq, xOff, j + 1)).blend(at(xq, xOff, k + 1), UPPER);
                ShortVector.zero(SS)
                        .add(xa, SA_PLUS)
                        .sub(xa, SA_MINUS)
                        .add(xb, SB_PLUS)
                        .sub(xb, SB_MINUS)
                        .intoArray(tab, tabOff + g * TABLE + p * 32);
            }
        }
    }

    private short at(int[] xq, int xOff, int j) {
        return j < cols ? (short) xq[xOff + j] : 0;
    }

    /** Exact sums Σ_j q_j xq_j of the 16 rows of tile t (tables at tab[tabOff..]) into out[outOff .. outOff + 16). */
    void rowsA8(int t, short[] tab, int tabOff, int[] out, int outOff) {
        IntVector acc = IntVector.zero(IS);
        int base = t * groups * TILE;
        for (int g0 = 0; g0 < groups; g0 += FLUSH) {
            ShortVector s0 = ShortVector.zero(SS), s1 = s0;
            for (int g = g0, ge = Math.min(groups, g0 + FLUSH); g < ge; g++) {
                ShortVector v = IntVector.fromArray(IS, codes, base + g * TILE).reinterpretAsShorts();
                int tb = tabOff + g * TABLE;
                s0 = s0.add(lookA8(v.and((short) 15), tab, tb));
                s1 = s1.add(lookA8(v.lanewise(VectorOperators.LSHR, 4).and((short) 15), tab, tb + 32));
                s0 = s0.add(lookA8(v.lanewise(VectorOperators.LSHR, 8).and((short) 15), tab, tb + 64));
                s1 = s1.add(lookA8(v.lanewise(VectorOperators.LSHR, 12), tab, tb + 96));
            }
            // int lane i = short lanes 2i (low half) and 2i+1 (high half): sign-extend both and add
            IntVector a = s0.reinterpretAsInts(), b = s1.reinterpretAsInts();
            acc = acc.add(a.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16))
                    .add(a.lanewise(VectorOperators.ASHR, 16))
                    .add(b.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16))
                    .add(b.lanewise(VectorOperators.ASHR, 16));
        }
        acc.intoArray(out, outOff);
    }

    private static ShortVector lookA8(ShortVector idx, short[] tab, int off) {
        return idx.or(ODD16).selectFrom(ShortVector.fromArray(SS, tab, off));
    }
}
