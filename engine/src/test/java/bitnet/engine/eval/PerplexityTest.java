package bitnet.engine.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import bitnet.engine.TestData;
import bitnet.engine.model.Model;
import bitnet.engine.model.Models;
import bitnet.io.Checkpoint;
import bitnet.kernels.cpu.ScalarKernels;
import java.lang.foreign.Arena;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Perplexity's window rule and its value against an independent computation: a log-softmax in
 * double over the logits of each window run on its own.
 */
class PerplexityTest {

    @Test
    void windowsAreNonOverlappingRunsOfLPlusOne() {
        assertEquals(0, Perplexity.windowsFor(0, 4, 10));
        assertEquals(0, Perplexity.windowsFor(4, 4, 10));
        assertEquals(1, Perplexity.windowsFor(5, 4, 10));
        assertEquals(1, Perplexity.windowsFor(8, 4, 10));
        assertEquals(2, Perplexity.windowsFor(9, 4, 10)); // ids[4:9] is the second window
        assertEquals(3, Perplexity.windowsFor(1000, 4, 3));
        assertEquals(1, Perplexity.windowsFor(257, 256, 64));
    }

    /** Mean NLL of the L predicted tokens of each window, each window in its own forward pass. */
    static double independentMeanNll(Model m, int[] ids, int L, int windows) {
        int V = m.cfg.vocabSize();
        double sum = 0;
        for (int w = 0; w < windows; w++) {
            int[] in = new int[L];
            System.arraycopy(ids, w * L, in, 0, L);
            float[] logits = m.k.download(m.forward(in, 1, L, null)); // (1, L, V)
            for (int t = 0; t < L; t++) {
                double max = Double.NEGATIVE_INFINITY;
                for (int v = 0; v < V; v++) {
                    max = Math.max(max, logits[t * V + v]);
                }
                double z = 0;
                for (int v = 0; v < V; v++) {
                    z += Math.exp(logits[t * V + v] - max);
                }
                sum += max + Math.log(z) - logits[t * V + ids[w * L + t + 1]];
            }
        }
        return sum / ((double) windows * L);
    }

    @Test
    void matchesAnIndependentComputationForAnyBatching() {
        for (String c : new String[] {"llama", "gpt2"}) {
            try (Arena arena = Arena.ofConfined();
                    Model m = Models.load(
                            Checkpoint.open(TestData.hfTiny(c), arena), new ScalarKernels(), Model.Mode.INFER)) {
                int V = m.cfg.vocabSize();
                int L = 13;
                int[] ids = new SplittableRandom(7).ints(5 * L + 3, 0, V).toArray(); // room for 5 windows and change
                double want = independentMeanNll(m, ids, L, 5);
                for (int batch : new int[] {1, 2, 5, 8}) {
                    Perplexity.Result r = Perplexity.compute(m, ids, L, 64, batch);
                    assertEquals(5, r.windows(), c);
                    assertEquals(5L * L, r.tokens(), c);
                    assertEquals(want, r.meanNll(), 1e-5, c + " batch " + batch);
                    assertEquals(Math.exp(want), r.ppl(), 1e-5 * Math.exp(want), c + " batch " + batch);
                }
                Perplexity.Result capped = Perplexity.compute(m, ids, L, 2, 4);
                assertEquals(2, capped.windows());
                assertEquals(independentMeanNll(m, ids, L, 2), capped.meanNll(), 1e-5);
                assertThrows(IllegalArgumentException.class, () -> Perplexity.compute(m, new int[L], L, 4, 1));
            }
        }
    }
}
