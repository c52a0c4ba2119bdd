package bitnet.engine.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import bitnet.engine.TestData;
import bitnet.engine.model.HfTensor;
import bitnet.engine.model.Model;
import bitnet.engine.model.Models;
import bitnet.io.Checkpoint;
import bitnet.kernels.cpu.ScalarKernels;
import java.lang.foreign.Arena;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Distillation's gradients against central finite differences of its own loss value, on the
 * tiny Llama and GPT-2 fixtures, the student being the fixture with its linear weights
 * perturbed and the teacher the fixture as stored (read in place).
 */
class DistillerTest {
    static final int B = 3, T = 8;

    static int[] ids(int V, int n, int seed) {
        int[] t = new int[n];
        for (int i = 0; i < n; i++) {
            t[i] = (i * 31 + 7 * seed + i * i) % V;
        }
        return t;
    }

    /** Loads the fixture twice (teacher in place, student with noise on its linear weights). */
    static Model[] pair(String c, Arena a) {
        var k = new ScalarKernels();
        Model teacher = Models.load(Checkpoint.open(TestData.hfTiny(c), a), k, Model.Mode.INFER);
        Model student = Models.load(Checkpoint.open(TestData.hfTiny(c), a), k, Model.Mode.TRAIN);
        SplittableRandom r = new SplittableRandom(7);
        for (HfTensor t : student.tensors().values()) {
            if (Qat.isTarget(t)) {
                float[] w = student.getHf(t);
                for (int i = 0; i < w.length; i++) {
                    w[i] += (float) (0.05 * r.nextGaussian());
                }
                student.setHf(t, w);
            }
        }
        return new Model[] {teacher, student};
    }

    static double total(Distiller d, Model s, int[] in, int[] tg) {
        s.zeroGrad();
        d.lossAndBackward(s, in, tg, B, T, true);
        return d.lastTotal;
    }

    @ParameterizedTest
    @ValueSource(strings = {"logits", "logits+attention", "logits:t1", "logits+attention:t1"})
    void gradientsMatchFiniteDifferencesLlama(String mode) {
        check("llama", mode);
    }

    @Test
    void gradientsMatchFiniteDifferencesGpt2() {
        check("gpt2", "logits+attention");
    }

    /** mode[:t1]: t1 = temperature 1 and every position with a target (the two-pass path), else T = 2 and one ignored target. */
    void check(String fixture, String spec) {
        String mode = spec.split(":")[0];
        boolean t1 = spec.endsWith(":t1");
        try (Arena a = Arena.ofShared()) {
            Model[] p = pair(fixture, a);
            Model teacher = p[0], s = p[1];
            int V = s.cfg.vocabSize();
            int[] in = ids(V, B * T, 1), tg = ids(V, B * T, 2);
            if (!t1) {
                tg[5] = -1; // an ignored position: no CE there, the KL still counts
            }
            // attention weight large enough that the relation term dominates the weights it reaches
            Distill cfg = new Distill(Distill.parseMode(mode), t1 ? 1f : 2f, 0.6f, 20f, new int[] {0, -1}, 2);
            Distiller d = new Distiller(teacher, cfg);
            double l0 = total(d, s, in, tg);
            assertTrue(d.lastKl > 1e-4, "the perturbed student differs from the teacher: KL " + d.lastKl);
            if (cfg.attention()) {
                assertTrue(d.lastRel > 1e-5, "relation loss " + d.lastRel);
            }
            assertTrue(Double.isFinite(l0));
            int checked = 0;
            for (HfTensor t : s.tensors().values()) {
                boolean attn = t.name().contains("q_proj")
                        || t.name().contains("k_proj")
                        || t.name().contains("v_proj")
                        || t.name().contains("c_attn");
                if (!(attn
                        || t.name().contains("down_proj")
                        || t.name().contains("c_proj")
                        || t.name().contains("embed")
                        || t.name().contains("wte"))) {
                    continue;
                }
                total(d, s, in, tg);
                float[] g = s.gradHf(t);
                float[] w = s.getHf(t);
                // the three largest gradient entries of the tensor
                int[] top = new int[3];
                for (int j = 0; j < top.length; j++) {
                    int best = -1;
                    for (int i = 0; i < g.length; i++) {
                        boolean taken = false;
                        for (int x = 0; x < j; x++) {
                            taken |= top[x] == i;
                        }
                        if (!taken && (best < 0 || Math.abs(g[i]) > Math.abs(g[best]))) {
                            best = i;
                        }
                    }
                    top[j] = best;
                }
                for (int i : top) {
                    float h = 1e-2f, w0 = w[i];
                    w[i] = w0 + h;
                    s.setHf(t, w);
                    double lp = total(d, s, in, tg);
                    w[i] = w0 - h;
                    s.setHf(t, w);
                    double lm = total(d, s, in, tg);
                    w[i] = w0;
                    s.setHf(t, w);
                    double fd = (lp - lm) / (2 * h);
                    assertEquals(fd, g[i], 2e-3 + 0.02 * Math.abs(fd), t.name() + "[" + i + "] " + mode);
                    checked++;
                }
            }
            assertTrue(checked >= 9, "checked " + checked);
            d.release(s);
            s.close();
            teacher.close();
        }
    }

    @Test
    void attentionTermChangesOnlyWithAttention() {
        // logits+attention with weight 0 gives the same gradients as logits alone
        try (Arena a = Arena.ofShared()) {
            Model[] p = pair("llama", a);
            Model teacher = p[0], s = p[1];
            int V = s.cfg.vocabSize();
            int[] in = ids(V, B * T, 1), tg = ids(V, B * T, 2);
            HfTensor wq = s.tensors().get("model.layers.1.self_attn.q_proj.weight");
            total(new Distiller(teacher, new Distill(Distill.Mode.LOGITS, 2f, 0.5f, 0f, new int[0], 4)), s, in, tg);
            float[] g1 = s.gradHf(wq);
            Distiller zero =
                    new Distiller(teacher, new Distill(Distill.Mode.LOGITS_ATTENTION, 2f, 0.5f, 0f, new int[] {-1}, 4));
            total(zero, s, in, tg);
            float[] g2 = s.gradHf(wq);
            zero.release(s);
            Distiller on =
                    new Distiller(teacher, new Distill(Distill.Mode.LOGITS_ATTENTION, 2f, 0.5f, 5f, new int[] {-1}, 4));
            total(on, s, in, tg);
            float[] g3 = s.gradHf(wq);
            on.release(s);
            double d12 = 0, d13 = 0;
            for (int i = 0; i < g1.length; i++) {
                d12 = Math.max(d12, Math.abs(g1[i] - g2[i]));
                d13 = Math.max(d13, Math.abs(g1[i] - g3[i]));
            }
            assertTrue(d12 < 1e-6, "weight 0 adds nothing: " + d12);
            assertTrue(d13 > 1e-4, "weight 5 changes the last layer's q gradient: " + d13);
            s.close();
            teacher.close();
        }
    }
}
