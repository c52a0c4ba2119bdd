package bitnet.kernels.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Random;
import jdk.incubator.vector.FloatVector;
import org.junit.jupiter.api.Test;

/**
 * The scalar twins that run while the JIT is busy at start-up (Parallel.jitBusy) give the vector
 * paths' bits: the lane tree sum, sum of squares (rmsnorm) and the attention softmax row.
 */
class ScalarTwinsTest {
    private static final int L = DetMath.L;

    private static float[] rand(Random r, int n, float scale) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (r.nextFloat() * 2 - 1) * scale;
        }
        return x;
    }

    private static void sameBits(float want, float got, String what) {
        assertEquals(Float.floatToRawIntBits(want), Float.floatToRawIntBits(got), what + ": " + want + " vs " + got);
    }

    @Test
    void lanesSumInTheSameTree() {
        Random r = new Random(1);
        for (int t = 0; t < 200; t++) {
            float[] v = rand(r, L, t % 2 == 0 ? 1f : 1e6f);
            v[t % L] *= 1e7f; // cancellation makes the order visible
            sameBits(
                    DetMath.sumLanes(FloatVector.fromArray(DetMath.S, v, 0)),
                    DetMath.sumLanes(v.clone()),
                    "trial " + t);
        }
    }

    @Test
    void sumOfSquaresTwin() {
        Random r = new Random(2);
        for (int n : new int[] {1, L - 1, L, 2 * L, 2 * L + 3, 5 * L + 1, 384, 1000}) {
            float[] x = rand(r, n + 3, 3f);
            sameBits(VectorMath.sumSq(x, 3, n, true), VectorMath.sumSq(x, 3, n, false), "n " + n);
        }
    }

    @Test
    void softmaxRowTwin() {
        Random r = new Random(3);
        int T = 3 * L + 5, np = VectorAttention.pad(T);
        for (int qpos : new int[] {0, 1, L - 1, L, 2 * L + 2, T - 1}) {
            for (int lo : new int[] {0, 1, L + 1}) {
                if (lo > qpos) {
                    continue;
                }
                float[] row = rand(r, np + 2, 8f), v = row.clone(), s = row.clone();
                float[] stv = new float[3], sts = new float[3];
                VectorAttention.softmaxRow(v, 2, lo, qpos, 0.125f, stv, 0, true);
                VectorAttention.softmaxRow(s, 2, lo, qpos, 0.125f, sts, 0, false);
                for (int j = 0; j < v.length; j++) {
                    sameBits(v[j], s[j], "qpos " + qpos + " lo " + lo + " j " + j);
                }
                for (int k = 0; k < 3; k++) {
                    sameBits(stv[k], sts[k], "state " + k);
                }
            }
        }
    }
}
