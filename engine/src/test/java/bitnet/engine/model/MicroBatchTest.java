package bitnet.engine.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import bitnet.engine.TestData;
import bitnet.io.Checkpoint;
import bitnet.kernels.cpu.VectorKernels;
import java.lang.foreign.Arena;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * A batch split into micro-batches (gradient accumulation, forced with bitnet.microBatch) gives
 * the loss and every gradient of the whole batch, up to float summation order.
 */
class MicroBatchTest {
    private static Map<String, float[]> lossAndGrads(String family, int micro, int[] ids, int B, int T, double[] loss) {
        if (micro > 0) {
            System.setProperty("bitnet.microBatch", Integer.toString(micro));
        }
        try (Arena arena = Arena.ofConfined();
                Model m = Models.load(
                        Checkpoint.open(TestData.hfTiny(family), arena), new VectorKernels(1), Model.Mode.TRAIN)) {
            int[] tg = Model.shiftedTargets(ids, B, T);
            tg[3] = -1; // an ignored position: the count is the whole batch's, not a micro-batch's
            loss[0] = m.loss(ids, tg, B, T, true);
            Map<String, float[]> g = new LinkedHashMap<>();
            for (HfTensor t : m.tensors().values()) {
                g.put(t.name(), m.gradHf(t));
            }
            return g;
        } finally {
            System.clearProperty("bitnet.microBatch");
        }
    }

    @Test
    void microBatchesGiveTheFullBatchsLossAndGradients() {
        for (String family : new String[] {"llama", "gpt2"}) {
            int B = 5, T = 7;
            int[] ids = new int[B * T];
            SplittableRandom r = new SplittableRandom(3);
            for (int i = 0; i < ids.length; i++) {
                ids[i] = r.nextInt(300);
            }
            double[] full = new double[1], split = new double[1];
            Map<String, float[]> gf = lossAndGrads(family, 0, ids, B, T, full);
            Map<String, float[]> gs = lossAndGrads(family, 2, ids, B, T, split); // 2 + 2 + 1 rows
            assertEquals(full[0], split[0], 1e-5 * Math.abs(full[0]), family + " loss");
            for (var e : gf.entrySet()) {
                float[] a = e.getValue(), b = gs.get(e.getKey());
                double maxAbs = 0;
                for (float x : a) {
                    maxAbs = Math.max(maxAbs, Math.abs(x));
                }
                for (int i = 0; i < a.length; i++) {
                    double tol = 1e-5 + 1e-4 * maxAbs;
                    int j = i;
                    assertTrue(
                            Math.abs(a[i] - b[i]) <= tol,
                            () -> family + " " + e.getKey() + "[" + j + "]: " + a[j] + " vs " + b[j]);
                }
            }
        }
    }
}
