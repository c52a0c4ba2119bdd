package bitnet.engine.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import bitnet.engine.TestData;
import bitnet.engine.model.HfTensor;
import bitnet.engine.model.Model;
import bitnet.engine.model.Models;
import bitnet.engine.quant.QuantResult;
import bitnet.engine.quant.Quantizer;
import bitnet.io.Checkpoint;
import bitnet.kernels.cpu.ScalarKernels;
import java.lang.foreign.Arena;
import java.util.HashMap;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** LSQ-style learned scales: the start at TWN, what is packed, and the scale step. */
class LearnedScalesTest {
    static final Quantizer TWN = Quantizer.parse("twn");

    @Test
    void startsAtTwnScalesAndPacksWhatTheForwardUses() {
        int rows = 16, cols = 64;
        float[] w = new float[rows * cols];
        SplittableRandom r = new SplittableRandom(3);
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) (0.05 * r.nextGaussian());
        }
        LearnedScales ls = new LearnedScales(TWN, n -> n.equals("w"), 1f);
        QuantResult twn = TWN.quantize("w", w, rows, cols);
        QuantResult q = ls.quantize("w", w, rows, cols);
        assertArrayEquals(twn.scale(), q.scale(), "the learned scales start at TWN's");
        assertArrayEquals(q.dequantize(), ls.apply("w", w, rows, cols), "the forward's weight is the packed one");
        // codes keep |w| > s/2; TWN's exact optimum may keep a few more just below s/2
        int differ = 0;
        for (int i = 0; i < w.length; i++) {
            float s = q.scale()[i / cols];
            assertEquals(Math.abs(w[i]) > s / 2 ? (int) Math.signum(w[i]) : 0, q.q()[i], "code " + i);
            if (q.q()[i] != twn.q()[i]) {
                differ++;
                assertTrue(Math.abs(w[i]) <= s / 2 && Math.abs(w[i]) > 0.4f * s, "only borderline codes differ: " + i);
            }
        }
        assertTrue(differ <= rows, differ + " codes differ from TWN's");
        float[] other = w.clone();
        assertSame(other, ls.apply("other", other, rows, cols), "a non-target passes through");
    }

    /** Adam's first step is lr · sign(gradient): each scale moves by exactly that against its LSQ gradient. */
    @Test
    void firstUpdateStepsEveryScaleAgainstItsLsqGradient() {
        try (Arena a = Arena.ofShared();
                Model m = Models.load(
                        Checkpoint.open(TestData.hfTiny("llama"), a), new ScalarKernels(), Model.Mode.TRAIN)) {
            LearnedScales ls = new LearnedScales(TWN, n -> true, 0.5f);
            Qat qat = new Qat(m, ls);
            qat.quantize();
            int V = m.cfg.vocabSize(), B = 2, T = 8;
            int[] in = DistillerTest.ids(V, B * T, 1), tg = DistillerTest.ids(V, B * T, 2);
            m.zeroGrad();
            m.loss(in, tg, B, T, true);
            Map<String, float[]> before = new HashMap<>(), grad = new HashMap<>();
            for (HfTensor t : qat.targets()) {
                float[] w = m.getHf(t), g = m.gradHf(t);
                float[] s =
                        ls.quantize(t.name(), w, t.storedRows(), t.storedCols()).scale();
                int cols = t.storedCols();
                float[] gs = new float[s.length];
                for (int row = 0; row < s.length; row++) {
                    for (int c = 0; c < cols; c++) {
                        float v = w[row * cols + c] / s[row];
                        gs[row] += g[row * cols + c] * (Math.abs(v) >= 1 ? Math.signum(v) : Math.rint(v) - v);
                    }
                }
                before.put(t.name(), s);
                grad.put(t.name(), gs);
            }
            float lr = 1e-4f;
            qat.update(lr);
            int moved = 0;
            for (HfTensor t : qat.targets()) {
                float[] s0 = before.get(t.name()), gs = grad.get(t.name());
                float[] s1 = ls.quantize(t.name(), m.getHf(t), t.storedRows(), t.storedCols())
                        .scale();
                for (int row = 0; row < s0.length; row++) {
                    if (Math.abs(gs[row]) > 1e-6f) {
                        assertEquals(
                                s0[row] - 0.5f * lr * Math.signum(gs[row]), s1[row], 1e-7f, t.name() + " row " + row);
                        moved++;
                    }
                }
            }
            assertTrue(moved > 20, "rows with a gradient: " + moved);
            qat.release();
        }
    }
}
