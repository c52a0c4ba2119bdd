package bitnet.kernels.ternary;

import bitnet.kernels.cpu.DetMath;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Vector API row kernels over one 2-bit packed ternary row (code = q+1 in 2 bits, weight j in
 * byte j/4 at bit 2*(j%4)). Where masks are native (AVX-512) no weight is ever multiplied: codes
 * are compared into a "+1" mask and a "-1" mask, and x is added under those masks to two separate
 * sums. Elsewhere the *Codes variants multiply x by c = q + 1 in {0, 1, 2}, several times faster
 * there than emulated masks. Scales and bias are the caller's business (applied once per row).
 *
 * <p>Codes must be valid (never 3); {@link TernaryWeight} checks that on construction. Not threaded,
 * no base-3 (callers decode base-3 rows to 2-bit first).
 */
final class TernaryRows {
    static final VectorSpecies<Float> FS = FloatVector.SPECIES_PREFERRED;
    static final VectorSpecies<Integer> IS = VectorSpecies.of(int.class, FS.vectorShape());
    static final int VL = FS.length();
    /**
     * Whether masked adds are native (AVX-512 mask registers: 512-bit preferred vectors). There the
     * row kernels add and subtract under +1/-1 masks and multiply nothing; elsewhere the *Codes
     * variants below multiply by the 2-bit code, which is much faster there (see them).
     */
    static final boolean NATIVE_MASKS = FS.vectorBitSize() >= 512;

    static final VectorSpecies<Short> SS = VectorSpecies.of(short.class, FS.vectorShape());
    static final int SL = SS.length();
    /** Weights per block of the int16 kernel: SL lanes x 8 codes of one 16-bit lane (64 bytes on AVX-512). */
    static final int BLK16 = 8 * SL;
    /** Lane i reads bits 2i..2i+1 of the broadcast group. */
    private static final IntVector SHIFTS = IntVector.fromArray(IS, shifts(), 0);

    private static final ValueLayout.OfInt LE_INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort LE_SHORT =
            ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private TernaryRows() {}

    private static int[] shifts() {
        int[] s = new int[IntVector.SPECIES_MAX.length()];
        for (int i = 0; i < s.length; i++) {
            s[i] = 2 * i;
        }
        return s;
    }

    /** The 2*VL code bits of weights j..j+VL-1 (j a multiple of 4); reads only bytes of those weights. */
    private static int bits(MemorySegment w, long byteOff) {
        if (VL == 16) {
            return w.get(LE_INT, byteOff);
        } else if (VL == 8) {
            return w.get(LE_SHORT, byteOff) & 0xffff;
        } else if (VL == 4) {
            return w.get(ValueLayout.JAVA_BYTE, byteOff) & 0xff;
        }
        long v = 0;
        for (int i = 0; i < VL / 4; i++) {
            v |= (long) (w.get(ValueLayout.JAVA_BYTE, byteOff + i) & 0xff) << (8 * i);
        }
        return (int) v;
    }

    private static IntVector codes(int bits) {
        return IntVector.broadcast(IS, bits)
                .lanewise(VectorOperators.LSHR, SHIFTS)
                .and(3);
    }

    /** The 2-bit code of weight j of the row at byteOff. */
    static int code(MemorySegment w, long rowOff, int j) {
        return (w.get(ValueLayout.JAVA_BYTE, rowOff + (j >>> 2)) >>> (2 * (j & 3))) & 3;
    }

    /** dst[d + i] = q_{j0 + i} in {-1, 0, +1} as floats for i in [0, n): one row slice laid out for a GEMM panel. */
    static void decodeF32(MemorySegment w, long rowOff, int j0, int n, float[] dst, int d) {
        int j = j0, end = j0 + n;
        for (; j < end && (j & 3) != 0; j++) {
            dst[d + j - j0] = code(w, rowOff, j) - 1;
        }
        for (; j + VL <= end; j += VL) {
            ((FloatVector) codes(bits(w, rowOff + (j >>> 2))).convert(VectorOperators.I2F, 0))
                    .sub(1f)
                    .intoArray(dst, d + j - j0);
        }
        for (; j < end; j++) {
            dst[d + j - j0] = code(w, rowOff, j) - 1;
        }
    }

    /** Σ_{j0 <= j < C} q_j x[xOff + j] (FP32, plus/minus sums per unrolled half; j0 a multiple of 4). */
    static float dot(MemorySegment w, long rowOff, float[] x, int xOff, int j0, int C) {
        FloatVector p0 = FloatVector.zero(FS), m0 = FloatVector.zero(FS);
        FloatVector p1 = FloatVector.zero(FS), m1 = FloatVector.zero(FS);
        int j = j0;
        for (; j + 2 * VL <= C; j += 2 * VL) {
            IntVector c0 = codes(bits(w, rowOff + (j >>> 2)));
            IntVector c1 = codes(bits(w, rowOff + ((j + VL) >>> 2)));
            FloatVector x0 = FloatVector.fromArray(FS, x, xOff + j);
            FloatVector x1 = FloatVector.fromArray(FS, x, xOff + j + VL);
            p0 = p0.add(x0, c0.eq(2).cast(FS));
            m0 = m0.add(x0, c0.eq(0).cast(FS));
            p1 = p1.add(x1, c1.eq(2).cast(FS));
            m1 = m1.add(x1, c1.eq(0).cast(FS));
        }
        if (j + VL <= C) {
            IntVector c0 = codes(bits(w, rowOff + (j >>> 2)));
            FloatVector x0 = FloatVector.fromArray(FS, x, xOff + j);
            p0 = p0.add(x0, c0.eq(2).cast(FS));
            m0 = m0.add(x0, c0.eq(0).cast(FS));
            j += VL;
        }
        float s = DetMath.sumLanes(p0.add(p1).sub(m0.add(m1)));
        for (; j < C; j++) {
            int c = code(w, rowOff, j);
            if (c == 2) {
                s += x[xOff + j];
            } else if (c == 0) {
                s -= x[xOff + j];
            }
        }
        return s;
    }

    /** Weights per block of {@link #dotPermuted}: VL int lanes x 16 codes (64 bytes on AVX-512). */
    static final int BLK32 = 16 * VL;

    /** Lays out x for {@link #dotPermuted}: in each full block position t*VL + L holds column 16L + t. */
    static void permuteF32(float[] x, int xOff, int C, float[] dst, int dOff) {
        for (int j = 0; j + BLK32 <= C; j += BLK32) {
            for (int L = 0; L < VL; L++) {
                for (int t = 0; t < 16; t++) {
                    dst[dOff + j + t * VL + L] = x[xOff + j + 16 * L + t];
                }
            }
        }
    }

    /**
     * The matrix-vector kernel where the table kernels are not used: Σ_j q_j x[j] with x also given
     * permuted (xT, {@link #permuteF32}). A full block loads one vector of packed codes (lane L: 16
     * codes); code t of each lane is shifted down and compared into a "+1" and a "-1" mask, and x
     * is added under each into separate sums (no multiplication).
     */
    static float dotPermuted(MemorySegment w, long rowOff, float[] xT, int xTOff, float[] x, int xOff, int C) {
        FloatVector p0 = FloatVector.zero(FS), p1 = p0, m0 = p0, m1 = p0;
        int j = 0;
        for (; j + BLK32 <= C; j += BLK32) {
            IntVector v = IntVector.fromMemorySegment(IS, w, rowOff + (j >>> 2), ByteOrder.LITTLE_ENDIAN);
            int xb = xTOff + j;
            for (int t = 0; t < 16; t += 2) {
                IntVector c0 = v.lanewise(VectorOperators.LSHR, 2 * t).and(3);
                IntVector c1 = v.lanewise(VectorOperators.LSHR, 2 * t + 2).and(3);
                FloatVector x0 = FloatVector.fromArray(FS, xT, xb + t * VL),
                        x1 = FloatVector.fromArray(FS, xT, xb + (t + 1) * VL);
                p0 = p0.add(x0, c0.compare(VectorOperators.EQ, 2).cast(FS));
                m0 = m0.add(x0, c0.compare(VectorOperators.EQ, 0).cast(FS));
                p1 = p1.add(x1, c1.compare(VectorOperators.EQ, 2).cast(FS));
                m1 = m1.add(x1, c1.compare(VectorOperators.EQ, 0).cast(FS));
            }
        }
        return DetMath.sumLanes(p0.add(p1).sub(m0.add(m1))) + dot(w, rowOff, x, xOff, j, C);
    }

    /**
     * Four dot products of one row with x rows at xOff0..3, decoding the row once for all four:
     * each x vector is added under the row's "+1" mask and under its "-1" mask into separate sums
     * (masked adds, no multiplication; an FMA with c = q + 1 took 5% less time at N = 64 but
     * multiplied by the codes).
     */
    static void dot4(
            MemorySegment w, long rowOff, float[] x, int xOff0, int xOff1, int xOff2, int xOff3, int C, float[] res) {
        FloatVector p0 = FloatVector.zero(FS), p1 = p0, p2 = p0, p3 = p0, m0 = p0, m1 = p0, m2 = p0, m3 = p0;
        int j = 0;
        for (; j + VL <= C; j += VL) {
            IntVector c = codes(bits(w, rowOff + (j >>> 2)));
            VectorMask<Float> plus = c.compare(VectorOperators.EQ, 2).cast(FS),
                    minus = c.compare(VectorOperators.EQ, 0).cast(FS);
            FloatVector x0 = FloatVector.fromArray(FS, x, xOff0 + j), x1 = FloatVector.fromArray(FS, x, xOff1 + j);
            FloatVector x2 = FloatVector.fromArray(FS, x, xOff2 + j), x3 = FloatVector.fromArray(FS, x, xOff3 + j);
            p0 = p0.add(x0, plus);
            m0 = m0.add(x0, minus);
            p1 = p1.add(x1, plus);
            m1 = m1.add(x1, minus);
            p2 = p2.add(x2, plus);
            m2 = m2.add(x2, minus);
            p3 = p3.add(x3, plus);
            m3 = m3.add(x3, minus);
        }
        float s0 = DetMath.sumLanes(p0.sub(m0));
        float s1 = DetMath.sumLanes(p1.sub(m1));
        float s2 = DetMath.sumLanes(p2.sub(m2));
        float s3 = DetMath.sumLanes(p3.sub(m3));
        for (; j < C; j++) {
            int c = code(w, rowOff, j);
            if (c == 2) {
                s0 += x[xOff0 + j];
                s1 += x[xOff1 + j];
                s2 += x[xOff2 + j];
                s3 += x[xOff3 + j];
            } else if (c == 0) {
                s0 -= x[xOff0 + j];
                s1 -= x[xOff1 + j];
                s2 -= x[xOff2 + j];
                s3 -= x[xOff3 + j];
            }
        }
        res[0] = s0;
        res[1] = s1;
        res[2] = s2;
        res[3] = s3;
    }

    /** Σ_{j0 <= j < C} q_j xq[xOff + j] in exact int arithmetic (xq: int8 activations widened to int; j0 a multiple of 4). */
    static int dotInt(MemorySegment w, long rowOff, int[] xq, int xOff, int j0, int C) {
        IntVector p0 = IntVector.zero(IS), m0 = IntVector.zero(IS);
        IntVector p1 = IntVector.zero(IS), m1 = IntVector.zero(IS);
        int j = j0;
        for (; j + 2 * VL <= C; j += 2 * VL) {
            IntVector c0 = codes(bits(w, rowOff + (j >>> 2)));
            IntVector c1 = codes(bits(w, rowOff + ((j + VL) >>> 2)));
            IntVector x0 = IntVector.fromArray(IS, xq, xOff + j);
            IntVector x1 = IntVector.fromArray(IS, xq, xOff + j + VL);
            p0 = p0.add(x0, c0.eq(2));
            m0 = m0.add(x0, c0.eq(0));
            p1 = p1.add(x1, c1.eq(2));
            m1 = m1.add(x1, c1.eq(0));
        }
        int s = p0.add(p1).sub(m0.add(m1)).reduceLanes(VectorOperators.ADD);
        for (; j < C; j++) {
            int c = code(w, rowOff, j);
            if (c == 2) {
                s += xq[xOff + j];
            } else if (c == 0) {
                s -= xq[xOff + j];
            }
        }
        return s;
    }

    /**
     * Lays out int8 activations for {@link #dotInt16}: within each full block of BLK16 columns,
     * position t*SL + L holds column 8L + t, so one 16-bit lane of packed codes (8 weights) meets
     * its 8 activations in 8 consecutive vectors. Columns past the last full block are not copied.
     */
    static void permuteInt16(int[] xq, int xOff, int C, short[] dst, int dOff) {
        for (int j = 0; j + BLK16 <= C; j += BLK16) {
            for (int L = 0; L < SL; L++) {
                for (int t = 0; t < 8; t++) {
                    dst[dOff + j + t * SL + L] = (short) xq[xOff + j + 8 * L + t];
                }
            }
        }
    }

    /**
     * Σ_j q_j xq[xOff + j], exact: full blocks read one vector of packed codes (SL lanes of 8 codes)
     * and add the permuted int16 activations xT under each code's "+1" and "-1" masks into separate
     * int16 sums (no multiplication), widened to int every 16 blocks (each sum <= 16 * 8 * 128 = 2^14).
     * The columns after the last full block go through {@link #dotInt}.
     */
    static int dotInt16(MemorySegment w, long rowOff, short[] xT, int xTOff, int[] xq, int xOff, int C) {
        IntVector acc = IntVector.zero(IS);
        int j = 0;
        while (j + BLK16 <= C) {
            ShortVector p = ShortVector.zero(SS), m = p;
            for (int b = 0; b < 16 && j + BLK16 <= C; b++, j += BLK16) {
                ShortVector v = ShortVector.fromMemorySegment(SS, w, rowOff + (j >>> 2), ByteOrder.LITTLE_ENDIAN);
                for (int t = 0; t < 8; t++) {
                    ShortVector c = v.lanewise(VectorOperators.LSHR, 2 * t).and((short) 3);
                    ShortVector xv = ShortVector.fromArray(SS, xT, xTOff + j + t * SL);
                    p = p.add(xv, c.compare(VectorOperators.EQ, 2));
                    m = m.add(xv, c.compare(VectorOperators.EQ, 0));
                }
            }
            ShortVector d = p.sub(m);
            acc = acc.add(d.convert(VectorOperators.S2I, 0)).add(d.convert(VectorOperators.S2I, 1));
        }
        return acc.reduceLanes(VectorOperators.ADD) + dotInt(w, rowOff, xq, xOff, j, C);
    }

    // ---- variants for CPUs without mask registers --------------------------------------------
    // They multiply x by the code c = q + 1 in {0, 1, 2} (one FMA or int16 multiply) and subtract
    // Σ x once: with AVX2, masked adds are emulated with blends, and the masked kernels measured
    // 1.8x (4-row), 1.8x (FP32 matvec) and 4x (W1.58A8 matvec) slower than these, below the 3x
    // over FP32 that the ternary matvec has to reach.

    /** Σ x[xOff + j] over the columns that {@link #dotPermutedCodes}'s full blocks cover (double, in order). */
    static float fullBlockSum(float[] x, int xOff, int C) {
        double s = 0;
        for (int j = 0, end = C / BLK32 * BLK32; j < end; j++) {
            s += x[xOff + j];
        }
        return (float) s;
    }

    /** 4^-k for k = t % 4: the factor {@link #permuteF32Codes} puts on code slot t of a lane. */
    private static final float[] SLOT_SCALE = {1f, 0.25f, 0.0625f, 0.015625f};
    /** Lane masks 3 << 2k (k = 0..3), VL lanes each: code k of the low byte of each int lane, left in place. */
    private static final int[] SLOT_MASKS = slotMasks();

    private static int[] slotMasks() {
        int[] m = new int[4 * VL];
        for (int k = 0; k < 4; k++) {
            Arrays.fill(m, k * VL, (k + 1) * VL, 3 << (2 * k));
        }
        return m;
    }

    /**
     * {@link #permuteF32} for {@link #dotPermutedCodes}: the same layout, slot t of each block scaled
     * by 4^-(t % 4). The kernel leaves code t % 4 of a byte in place (c * 4^(t % 4) as an int, no
     * shift) and this factor undoes it: (c 4^k) (x 4^-k) = c x exactly, so the sums are those of
     * c x bit for bit (a power-of-two scale is exact unless x 4^-k falls below FP32's normal range,
     * |x| < 2^-120).
     */
    static void permuteF32Codes(float[] x, int xOff, int C, float[] dst, int dOff) {
        for (int j = 0; j + BLK32 <= C; j += BLK32) {
            for (int L = 0; L < VL; L++) {
                for (int t = 0; t < 16; t++) {
                    dst[dOff + j + t * VL + L] = x[xOff + j + 16 * L + t] * SLOT_SCALE[t & 3];
                }
            }
        }
    }

    /**
     * {@link #dotPermuted} for CPUs without mask registers (see {@link #NATIVE_MASKS}): Σ_j q_j x[j]
     * with x also given permuted and scaled (xT from index 0, {@link #permuteF32Codes}) and sumFull =
     * {@link #fullBlockSum}. A full block loads one vector of packed codes (lane L: 16 codes); per
     * byte of each lane its four codes are masked in place (c 4^k), converted to float and FMA'd
     * with the scaled x: Σ q x = Σ c x - Σ x, 3 vector ops per VL weights plus one shift per 4.
     *
     * <p>Written so that C2 keeps everything in registers: the code vector is the FMA's first
     * factor, so the x load folds into the FMA as a memory operand (x first, C2 hoisted all 16
     * loads of a block, spilled the accumulators to the stack and ran 1.8x slower), and the masks
     * are loaded once (broadcast constants were re-materialised for every use).
     */
    static float dotPermutedCodes(MemorySegment w, long rowOff, float[] xT, float sumFull, float[] x, int xOff, int C) {
        // four accumulators: with two, the 4-cycle FMA latency was the limit
        FloatVector a0 = FloatVector.zero(FS), a1 = a0, a2 = a0, a3 = a0;
        IntVector k0 = IntVector.fromArray(IS, SLOT_MASKS, 0), k1 = IntVector.fromArray(IS, SLOT_MASKS, VL);
        IntVector k2 = IntVector.fromArray(IS, SLOT_MASKS, 2 * VL), k3 = IntVector.fromArray(IS, SLOT_MASKS, 3 * VL);
        int full = C / BLK32 * BLK32;
        if (xT.length < full) {
            throw new IllegalArgumentException("permuted x has " + xT.length + " floats for " + C + " columns");
        }
        // xT starts at 0 and the loop's limit is also bounded by its length (the same limit while
        // xT.length >= full): 6-10% faster for a 2048-column row in cache than an offset into a
        // shared (tokens, C) array (Zen 3). C2 still keeps four checks a block, on the last four
        // slots (j + 96 .. j + 120), in its compile of this method inside `generate` (JDK 25,
        // PrintAssembly)
        int end = Math.min(full, xT.length - BLK32 + 1);
        for (int j = 0; j < end; j += BLK32) {
            IntVector v = IntVector.fromMemorySegment(
                    IS, w, rowOff + (j >>> 2), ByteOrder.LITTLE_ENDIAN); // (VL) lanes of 16 codes
            for (int t = 0; t < 16; t += 4) {
                a0 = slotF(v, k0).fma(FloatVector.fromArray(FS, xT, j + t * VL), a0);
                a1 = slotF(v, k1).fma(FloatVector.fromArray(FS, xT, j + (t + 1) * VL), a1);
                a2 = slotF(v, k2).fma(FloatVector.fromArray(FS, xT, j + (t + 2) * VL), a2);
                a3 = slotF(v, k3).fma(FloatVector.fromArray(FS, xT, j + (t + 3) * VL), a3);
                v = v.lanewise(VectorOperators.LSHR, 8);
            }
        }
        float s = DetMath.sumLanes(a0.add(a1).add(a2.add(a3))) - sumFull;
        // no call when the blocks cover the row (every shape of the models): its empty loop still
        // reduced four zero vectors, a tenth of a 2048-column row's time
        return full == C ? s : s + dot(w, rowOff, x, xOff, full, C);
    }

    /** v & mask as floats: code k of each lane's low byte times 4^k, for mask 3 << 2k. */
    private static FloatVector slotF(IntVector v, IntVector mask) {
        return (FloatVector) v.and(mask).convert(VectorOperators.I2F, 0);
    }

    /** Σ x[xOff + j] over the columns {@link #dot4Codes}'s vector loop covers (double, in order). */
    static float fullVectorSum(float[] x, int xOff, int C) {
        double s = 0;
        for (int j = 0, end = C / VL * VL; j < end; j++) {
            s += x[xOff + j];
        }
        return (float) s;
    }

    /**
     * {@link #dot4} for CPUs without mask registers (see {@link #NATIVE_MASKS}), decoding the row once for all four:
     * codes c = q + 1 as floats FMA'd with each x (Σ q x = Σ c x - Σ x, sx[sxOff + k] =
     * {@link #fullVectorSum} of row k), 8 vector ops per VL weights and 4 rows where +1/-1 masks and
     * masked adds took 13.
     */
    static void dot4Codes(
            MemorySegment w,
            long rowOff,
            float[] x,
            int xOff0,
            int xOff1,
            int xOff2,
            int xOff3,
            int C,
            float[] sx,
            int sxOff,
            float[] res) {
        FloatVector a0 = FloatVector.zero(FS), a1 = a0, a2 = a0, a3 = a0;
        int j = 0;
        for (; j + VL <= C; j += VL) {
            FloatVector c = (FloatVector) codes(bits(w, rowOff + (j >>> 2))).convert(VectorOperators.I2F, 0);
            // c first: C2 then folds each x load into its FMA (see dotPermutedCodes)
            a0 = c.fma(FloatVector.fromArray(FS, x, xOff0 + j), a0);
            a1 = c.fma(FloatVector.fromArray(FS, x, xOff1 + j), a1);
            a2 = c.fma(FloatVector.fromArray(FS, x, xOff2 + j), a2);
            a3 = c.fma(FloatVector.fromArray(FS, x, xOff3 + j), a3);
        }
        float s0 = DetMath.sumLanes(a0) - sx[sxOff];
        float s1 = DetMath.sumLanes(a1) - sx[sxOff + 1];
        float s2 = DetMath.sumLanes(a2) - sx[sxOff + 2];
        float s3 = DetMath.sumLanes(a3) - sx[sxOff + 3];
        for (; j < C; j++) {
            int c = code(w, rowOff, j);
            if (c == 2) {
                s0 += x[xOff0 + j];
                s1 += x[xOff1 + j];
                s2 += x[xOff2 + j];
                s3 += x[xOff3 + j];
            } else if (c == 0) {
                s0 -= x[xOff0 + j];
                s1 -= x[xOff1 + j];
                s2 -= x[xOff2 + j];
                s3 -= x[xOff3 + j];
            }
        }
        res[0] = s0;
        res[1] = s1;
        res[2] = s2;
        res[3] = s3;
    }

    /** Σ xq[xOff + j] over the columns that {@link #dotInt16Codes}'s full blocks cover. */
    static int fullBlockSumInt(int[] xq, int xOff, int C) {
        int s = 0;
        for (int j = 0, end = C / BLK16 * BLK16; j < end; j++) {
            s += xq[xOff + j];
        }
        return s;
    }

    /**
     * {@link #dotInt16} for CPUs without mask registers (see {@link #NATIVE_MASKS}), exact: full
     * blocks read one vector of packed codes (SL lanes of 8 codes)
     * and multiply-add the permuted int16 activations xT with the codes c = q + 1 in {0, 1, 2}
     * (Σ q x = Σ c x - Σ x, sumFull = {@link #fullBlockSumInt}): 4 vector ops per SL weights where
     * compares and masked adds took 6. Partial sums are widened to int every 16 blocks
     * (|sum| <= 16 * 4 * 2 * 128 < 2^15). The columns after the last full block go through {@link #dotInt}.
     */
    static int dotInt16Codes(
            MemorySegment w, long rowOff, short[] xT, int xTOff, int sumFull, int[] xq, int xOff, int C) {
        IntVector acc = IntVector.zero(IS);
        int j = 0;
        while (j + BLK16 <= C) {
            ShortVector s0 = ShortVector.zero(SS), s1 = ShortVector.zero(SS);
            for (int b = 0; b < 16 && j + BLK16 <= C; b++, j += BLK16) {
                ShortVector v = ShortVector.fromMemorySegment(SS, w, rowOff + (j >>> 2), ByteOrder.LITTLE_ENDIAN);
                for (int t = 0; t < 8; t += 2) {
                    ShortVector c0 = v.and((short) 3);
                    ShortVector c1 = v.lanewise(VectorOperators.LSHR, 2).and((short) 3);
                    v = v.lanewise(VectorOperators.LSHR, 4);
                    s0 = s0.add(
                            ShortVector.fromArray(SS, xT, xTOff + j + t * SL).mul(c0));
                    s1 = s1.add(ShortVector.fromArray(SS, xT, xTOff + j + (t + 1) * SL)
                            .mul(c1));
                }
            }
            acc = acc.add(s0.convert(VectorOperators.S2I, 0))
                    .add(s0.convert(VectorOperators.S2I, 1))
                    .add(s1.convert(VectorOperators.S2I, 0))
                    .add(s1.convert(VectorOperators.S2I, 1));
        }
        return acc.reduceLanes(VectorOperators.ADD) - sumFull + dotInt(w, rowOff, xq, xOff, j, C);
    }

    /** d[dOff + j] += q_j * g for j in [c0, c1) (c0 a multiple of 4): one row's share of dinp += dout·W. */
    static void axpy(float[] d, int dOff, MemorySegment w, long rowOff, float g, int c0, int c1) {
        FloatVector gv = FloatVector.broadcast(FS, g);
        int j = c0;
        for (; j + VL <= c1; j += VL) {
            IntVector c = codes(bits(w, rowOff + (j >>> 2)));
            FloatVector dv = FloatVector.fromArray(FS, d, dOff + j);
            dv.add(gv, c.eq(2).cast(FS)).sub(gv, c.eq(0).cast(FS)).intoArray(d, dOff + j);
        }
        for (; j < c1; j++) {
            int c = code(w, rowOff, j);
            if (c == 2) {
                d[dOff + j] += g;
            } else if (c == 0) {
                d[dOff + j] -= g;
            }
        }
    }
}
