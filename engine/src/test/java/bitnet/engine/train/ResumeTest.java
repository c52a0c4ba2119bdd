package bitnet.engine.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import bitnet.engine.TestData;
import bitnet.engine.model.HfTensor;
import bitnet.engine.model.Model;
import bitnet.engine.model.Models;
import bitnet.engine.util.MetricsLog;
import bitnet.io.Checkpoint;
import bitnet.kernels.Backends;
import bitnet.kernels.Kernels;
import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A run interrupted after a checkpoint and resumed ends with parameters bit-identical to an
 * uninterrupted run (QAT, Grokfast EMA, warmup + cosine, clipping), on the CPU backend.
 */
class ResumeTest {
    static final class Killed extends RuntimeException {}

    static TrainConfig cfg() {
        return new TrainConfig(
                12,
                2,
                16,
                2,
                1e-3f,
                0.1f,
                3,
                1.0f,
                0.01f,
                0.9f,
                0.95f,
                1e-8f,
                Grokfast.parse("ema:0.98:2.0"),
                5,
                2,
                3,
                4,
                7);
    }

    static int[] tokens(int n, int V) {
        SplittableRandom r = new SplittableRandom(3);
        int[] t = new int[n];
        for (int i = 0; i < n; i++) {
            t[i] = r.nextInt(V);
        }
        return t;
    }

    static Map<String, float[]> train(Path ckptDir, Integer killAt, boolean resume) {
        Kernels k = Backends.select("cpu", 2).kernels();
        try (Arena arena = Arena.ofShared();
                Model m = Models.load(Checkpoint.open(TestData.hfTiny("llama"), arena), k, Model.Mode.TRAIN);
                MetricsLog log = new MetricsLog(null, false)) {
            int V = m.cfg.vocabSize();
            Trainer t = new Trainer(
                    m,
                    bitnet.engine.train.FakeQuants.of("seed:0.1"),
                    cfg(),
                    tokens(4000, V),
                    tokens(200, V),
                    log,
                    ckptDir);
            if (killAt != null) {
                t.onStep(s -> {
                    if (s == killAt) {
                        throw new Killed();
                    }
                });
            }
            t.run(resume);
            Map<String, float[]> out = new LinkedHashMap<>();
            for (HfTensor h : m.tensors().values()) {
                out.put(h.name(), m.getHf(h));
            }
            return out;
        }
    }

    @Test
    void resumedRunIsBitIdentical(@TempDir Path dir) {
        Map<String, float[]> full = train(dir.resolve("a"), null, false);
        Path b = dir.resolve("b");
        assertThrows(Killed.class, () -> train(b, 6, false)); // checkpoint at step 4, killed after step 6
        assertTrue(Checkpoints.exists(b), "a checkpoint was written before the kill");
        Map<String, float[]> resumed = train(b, null, true);
        for (var e : full.entrySet()) {
            assertArrayEquals(e.getValue(), resumed.get(e.getKey()), e.getKey() + " differs after resume");
        }
    }
}
