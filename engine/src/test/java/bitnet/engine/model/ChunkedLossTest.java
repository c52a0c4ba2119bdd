package bitnet.engine.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import bitnet.engine.TestData;
import bitnet.engine.train.Distill;
import bitnet.engine.train.Distiller;
import bitnet.io.Checkpoint;
import bitnet.kernels.cpu.VectorKernels;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.Function;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The loss takes the logits in chunks of rows (forward and backward), never all (N, V) at once:
 * with chunks forced small (bitnet.lossChunkFloats: 64 rows, here 64 + 64 + 32 of 160) the loss
 * is bit-identical to the one-chunk run (each row's logits and cross-entropy do not depend on the
 * chunk, and the sum runs in the same order) and every gradient agrees up to float summation order
 * (the head's gradient adds its rows chunk by chunk). The same for distillation, whose teacher
 * logits are chunked too, and with soft-capped logits (Gemma 3).
 */
class ChunkedLossTest {
    static final int B = 4, T = 40;

    @TempDir
    static Path tmp;

    /** The fixture's directory; gemma3-capped: the Gemma 3 fixture with final_logit_softcapping 3. */
    static Path fixture(String family) throws IOException {
        if (!family.equals("gemma3-capped")) {
            return TestData.hfTiny(family);
        }
        Path src = TestData.hfTiny("gemma3"), dst = tmp.resolve("gemma3-capped");
        if (!Files.isDirectory(dst)) {
            Files.createDirectories(dst);
            try (var files = Files.list(src)) {
                for (Path f : (Iterable<Path>) files::iterator) {
                    Files.copy(f, dst.resolve(f.getFileName()));
                }
            }
            Path c = dst.resolve("config.json");
            String json = Files.readString(c)
                    .replace("\"final_logit_softcapping\": null", "\"final_logit_softcapping\": 3.0");
            assertTrue(json.contains("\"final_logit_softcapping\": 3.0"));
            Files.writeString(c, json);
        }
        return dst;
    }

    static int[] ids(int V, int seed) {
        SplittableRandom r = new SplittableRandom(seed);
        int[] ids = new int[B * T];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = r.nextInt(V);
        }
        return ids;
    }

    /** Runs f on the fixture (TRAIN) with the given chunk floats (0: default); returns the gradients, f's result in out. */
    static Map<String, float[]> run(String family, long chunkFloats, Function<Model, Double> f, double[] out)
            throws IOException {
        if (chunkFloats > 0) {
            System.setProperty("bitnet.lossChunkFloats", Long.toString(chunkFloats));
        }
        try (Arena arena = Arena.ofConfined();
                Model m =
                        Models.load(Checkpoint.open(fixture(family), arena), new VectorKernels(1), Model.Mode.TRAIN)) {
            if (chunkFloats > 0) {
                assertEquals(64, m.headChunkRows(B * T), "the chunks are forced");
            } else {
                assertEquals(B * T, m.headChunkRows(B * T), "one chunk by default on a tiny vocabulary");
            }
            out[0] = f.apply(m);
            Map<String, float[]> g = new LinkedHashMap<>();
            for (HfTensor t : m.tensors().values()) {
                g.put(t.name(), m.gradHf(t));
            }
            return g;
        } finally {
            System.clearProperty("bitnet.lossChunkFloats");
        }
    }

    static void assertClose(Map<String, float[]> full, Map<String, float[]> chunked, String what) {
        for (var e : full.entrySet()) {
            float[] a = e.getValue(), b = chunked.get(e.getKey());
            double maxAbs = 0;
            for (float x : a) {
                maxAbs = Math.max(maxAbs, Math.abs(x));
            }
            assertTrue(maxAbs > 0 || e.getKey().contains("norm"), what + " " + e.getKey() + " has a gradient");
            for (int i = 0; i < a.length; i++) {
                double tol = 1e-6 + 1e-5 * maxAbs;
                int j = i;
                assertTrue(
                        Math.abs(a[i] - b[i]) <= tol,
                        () -> what + " " + e.getKey() + "[" + j + "]: " + a[j] + " vs " + b[j]);
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama", "gpt2", "gpt_neox", "gemma3-capped"})
    void chunkedCrossEntropyIsTheWholeOnes(String family) throws IOException {
        Function<Model, Double> loss = m -> {
            int[] in = ids(m.cfg.vocabSize(), 1);
            int[] tg = Model.shiftedTargets(in, B, T);
            tg[70] = -1; // an ignored position inside the second chunk
            return m.loss(in, tg, B, T, true);
        };
        double[] full = new double[1], chunked = new double[1];
        Map<String, float[]> gf = run(family, 0, loss, full);
        Map<String, float[]> gc = run(family, 1, loss, chunked);
        assertTrue(full[0] > 0 && Double.isFinite(full[0]), "loss " + full[0]);
        assertEquals(full[0], chunked[0], 0.0, family + ": the loss does not depend on the chunks");
        assertClose(gf, gc, family);
    }

    @ParameterizedTest
    @ValueSource(strings = {"logits:t1", "logits:t2", "logits+attention:t2"})
    void chunkedDistillationIsTheWholeOnes(String spec) throws IOException {
        distillation(spec, false);
    }

    /** Distillation split into micro-batches of one sequence (forced): the whole batch's loss and gradients. */
    @ParameterizedTest
    @ValueSource(strings = {"logits:t1", "logits+attention:t2"})
    void microBatchedDistillationIsTheWholeOnes(String spec) throws IOException {
        System.setProperty("bitnet.microBatch", "1");
        try {
            distillation(spec, true);
        } finally {
            System.clearProperty("bitnet.microBatch");
        }
    }

    /** Distillation with the default chunks against forced chunks (micro: the second run is micro-batched instead). */
    static void distillation(String spec, boolean micro) throws IOException {
        boolean t1 = spec.endsWith(":t1");
        Distill cfg = new Distill(Distill.parseMode(spec.split(":")[0]), t1 ? 1f : 2f, 0.6f, 5f, new int[] {-1}, 3);
        double[] kl = new double[2];
        Function<Model, Double>[] distil = new Function[2];
        for (int c = 0; c < 2; c++) {
            int slot = c;
            distil[c] = s -> {
                try (Arena a = Arena.ofConfined();
                        Model teacher =
                                Models.load(Checkpoint.open(TestData.hfTiny("llama"), a), s.k, Model.Mode.INFER)) {
                    // the student: the teacher's weights moved a little, so the KL is not zero
                    SplittableRandom r = new SplittableRandom(5);
                    for (HfTensor t : s.tensors().values()) {
                        float[] w = s.getHf(t);
                        for (int i = 0; i < w.length; i++) {
                            w[i] += (float) (0.02 * r.nextGaussian());
                        }
                        s.setHf(t, w);
                    }
                    Distiller d = new Distiller(teacher, cfg);
                    int[] in = ids(s.cfg.vocabSize(), 2), tg = ids(s.cfg.vocabSize(), 3);
                    if (!t1) {
                        tg[100] = -1;
                    }
                    double ce = d.lossAndBackward(s, in, tg, B, T, true);
                    kl[slot] = d.lastKl;
                    d.release(s);
                    return ce;
                }
            };
        }
        double[] full = new double[1], chunked = new double[1];
        String prop = System.clearProperty("bitnet.microBatch");
        Map<String, float[]> gf = run("llama", 0, distil[0], full);
        if (prop != null) {
            System.setProperty("bitnet.microBatch", prop);
        }
        Map<String, float[]> gc = run("llama", micro ? 0 : 1, distil[1], chunked);
        assertTrue(kl[0] > 1e-5, "student and teacher differ: KL " + kl[0]);
        assertEquals(full[0], chunked[0], (micro ? 1e-6 : 1e-12) * full[0], spec + " CE");
        assertEquals(kl[0], kl[1], (micro ? 1e-6 : 1e-9) * kl[0], spec + " KL");
        assertClose(gf, gc, spec);
    }
}
