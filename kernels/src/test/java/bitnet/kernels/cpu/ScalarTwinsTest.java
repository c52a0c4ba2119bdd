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

    @Test
    void crossEntropyRowTwin() {
        Random r = new Random(4);
        for (int V : new int[] {1, L - 1, L, 3 * L + 2, 512, 1100, 8192}) {
            for (int mode = 0; mode < 3; mode++) { // no gradient, a gradient buffer, the gradient over the logits
                float[] z = rand(r, 2 * V, 12f);
                z[V + r.nextInt(V)] = 40f; // one dominant logit in row 1
                int tgt = r.nextInt(V);
                float[] zv = z.clone(), zs = z.clone(), lv = new float[2], ls = new float[2];
                float[] dv = mode == 0 ? null : mode == 1 ? new float[2 * V] : zv;
                float[] ds = mode == 0 ? null : mode == 1 ? new float[2 * V] : zs;
                for (int n = 0; n < 2; n++) {
                    VectorKernels.crossEntropyRow(lv, dv, zv, n, tgt, V, 0.25f, true);
                    VectorKernels.crossEntropyRow(ls, ds, zs, n, tgt, V, 0.25f, false);
                    sameBits(lv[n], ls[n], "V " + V + " mode " + mode + " loss of row " + n);
                }
                if (dv != null) {
                    for (int j = 0; j < 2 * V; j++) {
                        sameBits(dv[j], ds[j], "V " + V + " mode " + mode + " dlogit " + j);
                    }
                }
            }
        }
    }

    @Test
    void attentionScoreTilesTwin() {
        Random r = new Random(5);
        for (int HS : new int[] {L, 20, 64}) {
            int TK = 5 * VectorAttention.PW + 3, np = VectorAttention.pad(TK);
            float[] kt = rand(r, HS * VectorAttention.padPanels(TK), 2f), x = rand(r, 4 * HS + 7, 2f);
            for (int[] range : new int[][] {{0, 3}, {0, TK - 1}, {L + 1, TK - 2}, {VectorAttention.PW - 1, 3 * L}}) {
                float[] v = rand(r, 4 * np, 1f), s = v.clone();
                VectorAttention.scores4(v, x, 7, HS, kt, np, HS, range[0], range[1], true);
                VectorAttention.scores4(s, x, 7, HS, kt, np, HS, range[0], range[1], false);
                for (int j = 0; j < v.length; j++) {
                    sameBits(v[j], s[j], "HS " + HS + " range " + range[0] + ".." + range[1] + " at " + j);
                }
            }
        }
    }

    @Test
    void attentionWeightedSumTilesTwin() {
        Random r = new Random(6);
        for (int HS : new int[] {L, 20, 64, 72}) {
            int T = 37, stride = 2 * HS + 1;
            float[] coef = rand(r, 4 * 48 + T, 1f), src = rand(r, T * stride + 3, 2f);
            for (boolean add : new boolean[] {false, true}) {
                for (int[] range : new int[][] {{0, 0}, {0, T - 1}, {5, 30}}) {
                    float[] v = rand(r, 4 * stride + HS, 3f), s = v.clone();
                    VectorAttention.accum4(
                            v, 1, stride, add, coef, 2, 48, 1, range[0], range[1], src, 3, stride, HS, true);
                    VectorAttention.accum4(
                            s, 1, stride, add, coef, 2, 48, 1, range[0], range[1], src, 3, stride, HS, false);
                    for (int j = 0; j < v.length; j++) {
                        sameBits(
                                v[j],
                                s[j],
                                "HS " + HS + " add " + add + " range " + range[0] + ".." + range[1] + " at " + j);
                    }
                }
            }
        }
    }

    @Test
    void coldBudgetIsAllOrNothingAndClosesOnTheFirstCallThatDoesNotFit() {
        Parallel.ColdBudget b = new Parallel.ColdBudget(100);
        org.junit.jupiter.api.Assertions.assertTrue(b.take(60));
        org.junit.jupiter.api.Assertions.assertFalse(b.take(50), "50 more does not fit in the 40 left");
        org.junit.jupiter.api.Assertions.assertFalse(b.take(1), "closed after a call that did not fit");
    }
}
