package bitnet.kernels.cpu;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * Small Vector API building blocks shared by the CPU kernels (dot, axpy, sums). Each has the
 * idiom of design.md: a static final species, a loopBound main loop with several accumulators
 * and fma, a scalar tail, one lane sum (DetMath.sumLanes: a fixed order, so the same bits in
 * every JIT tier). Not kernels themselves: no threads, no Bufs.
 */
final class VectorMath {
    static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    static final int L = S.length();

    private VectorMath() {}

    /** Σ a[ao+i] * b[bo+i] for i < n, FP32 with 2 vector accumulators. */
    static float dot(float[] a, int ao, float[] b, int bo, int n) {
        FloatVector s0 = FloatVector.zero(S), s1 = s0;
        int i = 0;
        int bound2 = n - 2 * L;
        for (; i <= bound2; i += 2 * L) {
            s0 = FloatVector.fromArray(S, a, ao + i).fma(FloatVector.fromArray(S, b, bo + i), s0);
            s1 = FloatVector.fromArray(S, a, ao + i + L).fma(FloatVector.fromArray(S, b, bo + i + L), s1);
        }
        for (; i <= n - L; i += L) {
            s0 = FloatVector.fromArray(S, a, ao + i).fma(FloatVector.fromArray(S, b, bo + i), s0);
        }
        float s = DetMath.sumLanes(s0.add(s1));
        for (; i < n; i++) {
            s += a[ao + i] * b[bo + i];
        }
        return s;
    }

    private static final VectorSpecies<Short> BF =
            VectorSpecies.of(short.class, VectorShape.forBitSize(S.vectorBitSize() / 2));
    private static final VectorSpecies<Integer> BI = VectorSpecies.of(int.class, S.vectorShape());
    private static final ValueLayout.OfShort LE_I16 =
            ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** L BF16 values at byte offset off, widened to FP32 (BF16 is the top half of an FP32). */
    private static FloatVector bf16(MemorySegment seg, long off) {
        return ((IntVector) ShortVector.fromMemorySegment(BF, seg, off, ByteOrder.LITTLE_ENDIAN)
                        .convertShape(VectorOperators.S2I, BI, 0))
                .lanewise(VectorOperators.LSHL, 16)
                .reinterpretAsFloats();
    }

    /**
     * {@link #dot} of a[ao ..] with n BF16 values stored at byte offset off of seg, widened in
     * registers: the same operations in the same order as converting the row first and calling
     * dot (so the same bits), without writing and re-reading the converted row.
     */
    static float dotBf16(float[] a, int ao, MemorySegment seg, long off, int n) {
        FloatVector s0 = FloatVector.zero(S), s1 = s0;
        int i = 0;
        int bound2 = n - 2 * L;
        for (; i <= bound2; i += 2 * L) {
            s0 = FloatVector.fromArray(S, a, ao + i).fma(bf16(seg, off + 2L * i), s0);
            s1 = FloatVector.fromArray(S, a, ao + i + L).fma(bf16(seg, off + 2L * (i + L)), s1);
        }
        for (; i <= n - L; i += L) {
            s0 = FloatVector.fromArray(S, a, ao + i).fma(bf16(seg, off + 2L * i), s0);
        }
        float s = DetMath.sumLanes(s0.add(s1));
        for (; i < n; i++) {
            s += a[ao + i] * Float.intBitsToFloat(seg.get(LE_I16, off + 2L * i) << 16);
        }
        return s;
    }

    /** y[yo+i] += a * x[xo+i]: a multiply then an add (no fma), so it rounds like the scalar loop. */
    static void axpy(float[] y, int yo, float[] x, int xo, int n, float a) {
        int i = 0;
        for (int bound = S.loopBound(n); i < bound; i += L) {
            FloatVector.fromArray(S, y, yo + i)
                    .add(FloatVector.fromArray(S, x, xo + i).mul(a))
                    .intoArray(y, yo + i);
        }
        for (; i < n; i++) {
            y[yo + i] += a * x[xo + i];
        }
    }

    /** y[yo+i] += x[xo+i]. */
    static void addTo(float[] y, int yo, float[] x, int xo, int n) {
        int i = 0;
        for (int bound = S.loopBound(n); i < bound; i += L) {
            FloatVector.fromArray(S, y, yo + i)
                    .add(FloatVector.fromArray(S, x, xo + i))
                    .intoArray(y, yo + i);
        }
        for (; i < n; i++) {
            y[yo + i] += x[xo + i];
        }
    }

    /** Σ x[o+i] over n, FP32 lanes. */
    static float sum(float[] x, int o, int n) {
        FloatVector s0 = FloatVector.zero(S);
        int i = 0;
        for (int bound = S.loopBound(n); i < bound; i += L) {
            s0 = s0.add(FloatVector.fromArray(S, x, o + i));
        }
        float s = DetMath.sumLanes(s0);
        for (; i < n; i++) {
            s += x[o + i];
        }
        return s;
    }

    /** Σ x[o+i]² over n, FP32 lanes. */
    static float sumSq(float[] x, int o, int n) {
        return sumSqLanes(x, o, n);
    }

    /**
     * {@link #sumSq}, in vector lanes or (vector false: while the JIT is busy at start-up, C1
     * compiles it at once) as its scalar twin: the same fmas per lane, the same lane tree, the same bits.
     */
    static float sumSq(float[] x, int o, int n, boolean vector) {
        return vector ? sumSqLanes(x, o, n) : sumSqTwin(x, o, n);
    }

    /**
     * The scalar twin of {@link #sumSqLanes}. Each path is a method of its own: in one method, C2
     * compiled it from start-up's scalar-only profile and left the vector ops it had never seen run
     * as calls into the Vector API's Java fallback (VectorKernels#swigluLanes).
     */
    private static float sumSqTwin(float[] x, int o, int n) {
        float[] s0 = new float[L], s1 = new float[L];
        int i = 0;
        for (; i <= n - 2 * L; i += 2 * L) {
            for (int l = 0; l < L; l++) {
                float a = x[o + i + l], b = x[o + i + L + l];
                s0[l] = Math.fma(a, a, s0[l]);
                s1[l] = Math.fma(b, b, s1[l]);
            }
        }
        for (; i <= n - L; i += L) {
            for (int l = 0; l < L; l++) {
                float a = x[o + i + l];
                s0[l] = Math.fma(a, a, s0[l]);
            }
        }
        for (int l = 0; l < L; l++) {
            s0[l] += s1[l];
        }
        float s = DetMath.sumLanes(s0);
        for (; i < n; i++) {
            s += x[o + i] * x[o + i];
        }
        return s;
    }

    /** {@link #sumSq} in vector lanes. */
    private static float sumSqLanes(float[] x, int o, int n) {
        FloatVector s0 = FloatVector.zero(S), s1 = s0;
        int i = 0;
        for (; i <= n - 2 * L; i += 2 * L) {
            FloatVector a = FloatVector.fromArray(S, x, o + i), b = FloatVector.fromArray(S, x, o + i + L);
            s0 = a.fma(a, s0);
            s1 = b.fma(b, s1);
        }
        for (; i <= n - L; i += L) {
            FloatVector a = FloatVector.fromArray(S, x, o + i);
            s0 = a.fma(a, s0);
        }
        float s = DetMath.sumLanes(s0.add(s1));
        for (; i < n; i++) {
            s += x[o + i] * x[o + i];
        }
        return s;
    }

    /** The scalar twin of {@link #max}: a max does not depend on the order. */
    static float maxScalar(float[] x, int o, int n) {
        float r = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) {
            r = Math.max(r, x[o + i]);
        }
        return r;
    }

    /** max of x[o .. o+n), n >= 1. */
    static float max(float[] x, int o, int n) {
        FloatVector m = FloatVector.broadcast(S, Float.NEGATIVE_INFINITY);
        int i = 0;
        for (int bound = S.loopBound(n); i < bound; i += L) {
            m = m.max(FloatVector.fromArray(S, x, o + i));
        }
        float r = m.reduceLanes(VectorOperators.MAX);
        for (; i < n; i++) {
            r = Math.max(r, x[o + i]);
        }
        return r;
    }
}
