package bitnet.kernels.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import org.junit.jupiter.api.Test;

/** DetMath against Math.exp / Math.tanh (accuracy) and its vector forms against their scalar twins (same bits). */
class DetMathTest {
    private static final int L = DetMath.L;

    /** Error in units of the float spacing at the true value (subnormals: the smallest spacing). */
    private static double ulps(float got, double want) {
        double ulp = Math.max(Math.ulp((float) want), Float.MIN_VALUE);
        return Math.abs(got - want) / ulp;
    }

    private static float[] inputs(float lo, float hi, int n, long seed) {
        Random r = new Random(seed);
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = lo + (hi - lo) * r.nextFloat();
        }
        return x;
    }

    @Test
    void expWithinTwoUlpsAndVectorEqualsScalar() {
        float[] x = inputs(-110f, 90f, 1 << 18, 1);
        float[] v = new float[x.length];
        for (int i = 0; i < x.length; i += L) {
            DetMath.exp(FloatVector.fromArray(DetMath.S, x, i)).intoArray(v, i);
        }
        double worst = 0;
        for (int i = 0; i < x.length; i++) {
            float s = DetMath.exp(x[i]);
            assertEquals(Float.floatToIntBits(s), Float.floatToIntBits(v[i]), "vector vs scalar at " + x[i]);
            double want = Math.exp(x[i]);
            if (want > Float.MAX_VALUE) {
                assertEquals(Float.POSITIVE_INFINITY, s, "overflow at " + x[i]);
            } else {
                worst = Math.max(worst, ulps(s, want));
            }
        }
        assertTrue(worst <= 2, "exp worst error " + worst + " ulp");
        // softmax-sized arguments near 0, where most of the mass is
        for (float t : inputs(-20f, 0f, 1 << 16, 2)) {
            assertTrue(ulps(DetMath.exp(t), Math.exp(t)) <= 2, "exp(" + t + ")");
        }
        assertEquals(0f, DetMath.exp(Float.NEGATIVE_INFINITY));
        assertEquals(0f, DetMath.exp(-1000f));
        assertEquals(1f, DetMath.exp(0f));
        assertEquals(Float.POSITIVE_INFINITY, DetMath.exp(Float.POSITIVE_INFINITY));
        assertTrue(Float.isNaN(DetMath.exp(Float.NaN)));
    }

    @Test
    void tanhAndSigmoidCloseAndVectorEqualsScalar() {
        float[] x = inputs(-12f, 12f, 1 << 16, 3);
        x[0] = 0f;
        x[1] = -0.625f;
        x[2] = 0.625f;
        x[3] = 1e-30f;
        float[] t = new float[x.length], sg = new float[x.length];
        for (int i = 0; i < x.length; i += L) {
            FloatVector xv = FloatVector.fromArray(DetMath.S, x, i);
            DetMath.tanh(xv).intoArray(t, i);
            DetMath.sigmoid(xv).intoArray(sg, i);
        }
        double worstT = 0, worstS = 0;
        for (int i = 0; i < x.length; i++) {
            assertEquals(Float.floatToIntBits(DetMath.tanh(x[i])), Float.floatToIntBits(t[i]), "tanh twin at " + x[i]);
            assertEquals(
                    Float.floatToIntBits(DetMath.sigmoid(x[i])),
                    Float.floatToIntBits(sg[i]),
                    "sigmoid twin at " + x[i]);
            worstT = Math.max(worstT, ulps(t[i], Math.tanh(x[i])));
            worstS = Math.max(worstS, ulps(sg[i], 1 / (1 + Math.exp(-x[i]))));
        }
        assertTrue(worstT <= 4, "tanh worst " + worstT + " ulp");
        assertTrue(worstS <= 4, "sigmoid worst " + worstS + " ulp");
        assertEquals(1f, DetMath.tanh(100f));
        assertEquals(-1f, DetMath.tanh(Float.NEGATIVE_INFINITY));
    }

    @Test
    void sumLanesIsTheLaneSum() {
        Random r = new Random(4);
        float[] a = new float[L];
        double[] d = new double[8];
        for (int rep = 0; rep < 100; rep++) {
            double want = 0, mag = 0;
            for (int i = 0; i < L; i++) {
                a[i] = (float) r.nextGaussian();
                want += a[i];
                mag += Math.abs(a[i]);
            }
            assertEquals(want, DetMath.sumLanes(FloatVector.fromArray(DetMath.S, a, 0)), 1e-6 * mag);
            double wd = 0;
            for (int i = 0; i < 8; i++) {
                d[i] = r.nextGaussian();
                wd += d[i];
            }
            assertEquals(wd, DetMath.sumLanes(DoubleVector.fromArray(DoubleVector.SPECIES_512, d, 0)), 1e-14);
        }
    }
}
