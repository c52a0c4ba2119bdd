package bitnet.engine.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import bitnet.engine.TestData;
import bitnet.engine.model.HfTensor;
import bitnet.engine.model.Model;
import bitnet.engine.model.Models;
import bitnet.engine.model.Param;
import bitnet.engine.util.MetricsLog;
import bitnet.io.Checkpoint;
import bitnet.kernels.cpu.ScalarKernels;
import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** The divergence guard and the gradient-flow check. */
class GuardAndFlowTest {

    static String[] cases() {
        return TestData.HF_TINY;
    }

    static Model load(String c, Arena a) {
        return Models.load(Checkpoint.open(TestData.hfTiny(c), a), new ScalarKernels(), Model.Mode.TRAIN);
    }

    static int[] ids(Model m, int n) {
        int[] t = new int[n];
        for (int i = 0; i < n; i++) {
            t[i] = (i * 31 + 7) % m.cfg.vocabSize();
        }
        return t;
    }

    @Test
    void nanLossRestoresLastGoodStateAndHalvesTheLearningRate() {
        try (Arena a = Arena.ofShared();
                Model m = load("llama", a);
                MetricsLog log = new MetricsLog(null, false)) {
            AtomicInteger calls = new AtomicInteger();
            int perStep =
                    (int) m.tensors().values().stream().filter(Qat::isTarget).count();
            // the third quantization (step 3's forward) poisons one weight: the loss becomes NaN
            FakeQuant poison = (name, w, r, c) -> {
                float[] out = w.clone();
                if (calls.incrementAndGet() == 2 * perStep + 1) {
                    Arrays.fill(out, Float.NaN);
                }
                return out;
            };
            TrainConfig cfg = new TrainConfig(
                    6, 2, 8, 1, 1e-3f, 0.1f, 0, 1.0f, 0f, 0.9f, 0.95f, 1e-8f, Grokfast.OFF, 0, 1, 3, 0, 1);
            Trainer t = new Trainer(m, poison, cfg, ids(m, 500), ids(m, 100), log, null);
            Trainer.Result r = t.run(false);
            assertEquals(1, r.restarts());
            assertEquals(6, r.steps());
            assertTrue(
                    log.events().stream().anyMatch(e -> e.get("event").equals("divergence")),
                    "the guard says so in the metrics");
            for (HfTensor h : m.tensors().values()) {
                for (float v : m.getHf(h)) {
                    assertTrue(Float.isFinite(v), h.name() + " finite after the restore");
                }
            }
        }
    }

    @ParameterizedTest
    @MethodSource("cases")
    void flowPassesOnEveryFixture(String c) {
        try (Arena a = Arena.ofShared();
                Model m = load(c, a)) {
            GradientFlow.Report r = GradientFlow.check(m, ids(m, 16), 2, 8);
            assertTrue(r.passed(), c + ": " + r.problems());
            assertEquals(m.tensors().size(), r.parameters().size());
        }
    }

    static HfTensor head(Model m) {
        for (HfTensor t : m.tensors().values()) {
            Param.Kind k = t.parts().get(0).kind;
            if (k == Param.Kind.HEAD) {
                return t;
            }
        }
        for (HfTensor t : m.tensors().values()) {
            if (t.parts().get(0).kind == Param.Kind.EMBEDDING) {
                return t; // tied head
            }
        }
        throw new AssertionError("no head");
    }

    @ParameterizedTest
    @MethodSource("cases")
    void flowFailsNamingANanHead(String c) {
        try (Arena a = Arena.ofShared();
                Model m = load(c, a)) {
            HfTensor h = head(m);
            float[] w = m.getHf(h);
            w[5] = Float.NaN;
            m.setHf(h, w);
            GradientFlow.Report r = GradientFlow.check(m, ids(m, 16), 2, 8);
            assertFalse(r.passed());
            assertTrue(r.problems().get(0).startsWith(h.name() + ":"), c + ": " + r.problems());
        }
    }

    @ParameterizedTest
    @MethodSource("cases")
    void flowFailsWhenTheHeadIsCutOff(String c) {
        try (Arena a = Arena.ofShared();
                Model m = load(c, a)) {
            // a zeroed head passes no gradient to the layers below it: every one of them is named
            HfTensor h = head(m);
            m.setHf(h, new float[(int) h.numel()]);
            GradientFlow.Report r = GradientFlow.check(m, ids(m, 16), 2, 8);
            assertFalse(r.passed());
            assertTrue(r.problems().stream().anyMatch(p -> p.contains("no gradient")), c + ": " + r.problems());
        }
    }

    @Test
    void flowPassesOnTheDemoModel() {
        try (Arena a = Arena.ofShared();
                Model m = Models.load(
                        Checkpoint.open(Path.of("..", "src", "demo", "model"), a),
                        bitnet.kernels.Backends.select("cpu", 0).kernels(),
                        Model.Mode.TRAIN)) {
            GradientFlow.Report r = GradientFlow.check(m, ids(m, 64), 1, 64);
            assertTrue(r.passed(), r.problems().toString());
        }
    }
}
