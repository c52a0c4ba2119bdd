package bitnet.kernels.cpu;

import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * Vector math whose bits do not depend on the JIT tier. The interpreter and C1 run the Vector
 * API's Java fallback, C2 its intrinsics, and the two disagree for lanewise EXP/TANH (SVML vs
 * StrictMath-like fallbacks) and for float/double reduceLanes(ADD) (C2 may sum in a different
 * order). A resumed training run starts with a cold JIT, so kernels must avoid both: here a lane
 * sum in a fixed tree order (rearrange + add, the same ops in every tier) and exp/tanh/sigmoid
 * built only from add/mul/fma/min/max/bit operations (Cephes expf range reduction and
 * polynomial, within ~1-2 ulp of Math.exp), each with a scalar twin doing the very same float
 * operations so that vector tails agree with vector lanes. Not a general math library: float only,
 * no special-casing beyond what the kernels need (NaN in gives NaN out, saturation at ±inf).
 */
public final class DetMath {
    static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    static final VectorSpecies<Integer> IS = VectorSpecies.of(int.class, S.vectorShape());
    static final int L = S.length();

    /** Shuffle k swaps lanes at distance L >> (k+1): log2(L) steps of a butterfly tree. */
    private static final VectorShuffle<Float>[] TREE = tree(S);

    private static final VectorSpecies<Double> SD = DoubleVector.SPECIES_512;
    private static final VectorShuffle<Double>[] TREE_D = tree(SD);

    private static final float LOG2E = 1.44269504088896341f;
    /** 1.5 * 2^23: adding and subtracting it rounds a float of magnitude < 2^22 to an integer. */
    private static final float MAGIC = 12582912f;

    private static final float LN2_HI = 0.693359375f, LN2_LO = -2.12194440e-4f;
    private static final float P0 = 1.9875691500e-4f,
            P1 = 1.3981999507e-3f,
            P2 = 8.3334519073e-3f,
            P3 = 4.1665795894e-2f,
            P4 = 1.6666665459e-1f,
            P5 = 5.0000001201e-1f;
    /** Below this exp is 0 in float (even as a subnormal); above EXP_HI it overflows to +inf. */
    private static final float EXP_LO = -104f, EXP_HI = 88.73f;

    private static final float T0 = -5.70498872745e-3f,
            T1 = 2.06390887954e-2f,
            T2 = -5.37397155531e-2f,
            T3 = 1.33314422036e-1f,
            T4 = -3.33332819422e-1f;
    /** Below this |x| tanh is its odd polynomial (Cephes tanhf), above it 1 - 2/(exp(2|x|)+1). */
    private static final float TANH_SMALL = 0.625f;

    private DetMath() {}

    @SuppressWarnings("unchecked")
    private static <E> VectorShuffle<E>[] tree(VectorSpecies<E> sp) {
        int n = sp.length();
        int steps = Integer.numberOfTrailingZeros(n);
        VectorShuffle<E>[] t = new VectorShuffle[steps];
        for (int k = 0; k < steps; k++) {
            int d = n >> (k + 1);
            t[k] = VectorShuffle.fromOp(sp, i -> i ^ d);
        }
        return t;
    }

    /** Σ lanes of v in a fixed butterfly order (IEEE addition is commutative, so every tier agrees). */
    public static float sumLanes(FloatVector v) {
        for (VectorShuffle<Float> sh : TREE) {
            v = v.add(v.rearrange(sh));
        }
        return v.lane(0);
    }

    /**
     * The scalar twin of {@link #sumLanes(FloatVector)}: lanes[0 .. L) summed in the same butterfly
     * order (lane l gets lane l + lane l^d for d = L/2, L/4, ..., 1), so the same bits. Overwrites lanes.
     */
    public static float sumLanes(float[] lanes) {
        float[] next = new float[L];
        for (int d = L >> 1; d >= 1; d >>= 1) {
            for (int l = 0; l < L; l++) {
                next[l] = lanes[l] + lanes[l ^ d];
            }
            System.arraycopy(next, 0, lanes, 0, L);
        }
        return lanes[0];
    }

    /** Σ lanes of a 512-bit double vector in a fixed order. */
    public static double sumLanes(DoubleVector v) {
        for (VectorShuffle<Double> sh : TREE_D) {
            v = v.add(v.rearrange(sh));
        }
        return v.lane(0);
    }

    /** e^x per lane (Cephes expf: x = n ln2 + r, |r| <= ln2/2, e^r by a degree-6 polynomial, 2^n by exponent bits). */
    public static FloatVector exp(FloatVector x) {
        x = x.max(EXP_LO).min(EXP_HI);
        FloatVector fn = x.mul(LOG2E).add(MAGIC).sub(MAGIC);
        FloatVector r = fn.fma(FloatVector.broadcast(S, -LN2_HI), x);
        r = fn.fma(FloatVector.broadcast(S, -LN2_LO), r);
        FloatVector z = r.mul(r);
        FloatVector y = r.fma(P0, P1);
        y = y.fma(r, FloatVector.broadcast(S, P2));
        y = y.fma(r, FloatVector.broadcast(S, P3));
        y = y.fma(r, FloatVector.broadcast(S, P4));
        y = y.fma(r, FloatVector.broadcast(S, P5));
        y = y.fma(z, r).add(1f);
        // 2^n as two factors 2^(n>>1) and 2^(n - n>>1), both normal for n in [-150, 128]
        IntVector n = (IntVector) fn.convert(VectorOperators.F2I, 0);
        IntVector n1 = n.lanewise(VectorOperators.ASHR, 1);
        IntVector n2 = n.sub(n1);
        FloatVector s1 = n1.add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
        FloatVector s2 = n2.add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
        return y.mul(s1).mul(s2);
    }

    /** The scalar twin of {@link #exp(FloatVector)}: the same float operations, so the same bits. */
    public static float exp(float x) {
        x = Math.min(Math.max(x, EXP_LO), EXP_HI);
        float fn = x * LOG2E + MAGIC - MAGIC;
        float r = Math.fma(fn, -LN2_HI, x);
        r = Math.fma(fn, -LN2_LO, r);
        float z = r * r;
        float y = Math.fma(r, P0, P1);
        y = Math.fma(y, r, P2);
        y = Math.fma(y, r, P3);
        y = Math.fma(y, r, P4);
        y = Math.fma(y, r, P5);
        y = Math.fma(y, z, r) + 1f;
        int n = (int) fn;
        int n1 = n >> 1, n2 = n - n1;
        return y * Float.intBitsToFloat((n1 + 127) << 23) * Float.intBitsToFloat((n2 + 127) << 23);
    }

    /** tanh per lane: Cephes tanhf (odd polynomial for |x| < 0.625, else from exp(2|x|)). */
    public static FloatVector tanh(FloatVector x) {
        FloatVector ax = x.abs();
        FloatVector z = x.mul(x);
        FloatVector p = z.fma(T0, T1);
        p = p.fma(z, FloatVector.broadcast(S, T2));
        p = p.fma(z, FloatVector.broadcast(S, T3));
        p = p.fma(z, FloatVector.broadcast(S, T4));
        FloatVector small = p.mul(z).fma(x, x);
        FloatVector e = exp(ax.add(ax));
        FloatVector big =
                FloatVector.broadcast(S, 1f).sub(FloatVector.broadcast(S, 2f).div(e.add(1f)));
        // copy x's sign onto big (x is -0, +0 or NaN only where small is chosen or the result is NaN anyway)
        big = big.viewAsIntegralLanes()
                .lanewise(VectorOperators.OR, ((IntVector) x.viewAsIntegralLanes()).and(0x80000000))
                .viewAsFloatingLanes();
        return small.blend(big, ax.compare(VectorOperators.GE, TANH_SMALL));
    }

    /** The scalar twin of {@link #tanh(FloatVector)}. */
    public static float tanh(float x) {
        float ax = Math.abs(x);
        if (ax < TANH_SMALL) {
            float z = x * x;
            float p = Math.fma(z, T0, T1);
            p = Math.fma(p, z, T2);
            p = Math.fma(p, z, T3);
            p = Math.fma(p, z, T4);
            return Math.fma(p * z, x, x);
        }
        float e = exp(ax + ax);
        float big = 1f - 2f / (e + 1f);
        return x < 0 ? -big : (Float.isNaN(x) ? x : big);
    }

    /** 1 / (1 + e^-x) per lane. */
    public static FloatVector sigmoid(FloatVector x) {
        return FloatVector.broadcast(S, 1f).div(exp(x.neg()).add(1f));
    }

    /** The scalar twin of {@link #sigmoid(FloatVector)}. */
    public static float sigmoid(float x) {
        return 1f / (exp(-x) + 1f);
    }
}
