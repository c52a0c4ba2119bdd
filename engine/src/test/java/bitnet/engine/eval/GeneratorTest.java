package bitnet.engine.eval;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import bitnet.engine.TestData;
import bitnet.engine.model.Model;
import bitnet.engine.model.Models;
import bitnet.io.Checkpoint;
import bitnet.kernels.cpu.ScalarKernels;
import java.lang.foreign.Arena;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Generation: greedy decoding with the KV cache against argmax over a full recomputation without
 * a cache, the stop rules, and the sampler's distribution (temperature, nucleus) by counting.
 */
class GeneratorTest {

    /** Greedy without a cache: the whole sequence re-run for every new token. */
    static int[] greedyNoCache(Model m, int[] prompt, int maxNew) {
        int V = m.cfg.vocabSize();
        int[] seq = prompt.clone();
        for (int i = 0; i < maxNew; i++) {
            float[] logits = m.k.download(m.forward(seq, 1, seq.length, null)); // (1, T, V)
            int best = 0;
            int base = (seq.length - 1) * V;
            for (int v = 1; v < V; v++) {
                if (logits[base + v] > logits[base + best]) {
                    best = v;
                }
            }
            seq = Arrays.copyOf(seq, seq.length + 1);
            seq[seq.length - 1] = best;
        }
        return seq;
    }

    @Test
    void greedyWithCacheEqualsRecomputationAndStopsWhereItShould() {
        for (String c : new String[] {"llama", "gpt2", "qwen2"}) {
            try (Arena arena = Arena.ofConfined();
                    Model m = Models.load(
                            Checkpoint.open(TestData.hfTiny(c), arena), new ScalarKernels(), Model.Mode.INFER)) {
                int[] prompt = {5, 17, 250, 3, 99};
                int[] want = greedyNoCache(m, prompt, 12);
                int[] got = Generator.generate(m, prompt, 12, Generator.Sampling.GREEDY, null);
                assertArrayEquals(want, got, c);
                // an eos id stops right after it is produced (and is kept)
                int eos = want[prompt.length + 3];
                int firstEos = prompt.length;
                while (want[firstEos] != eos) {
                    firstEos++;
                }
                int[] stopped = Generator.generate(m, prompt, 12, Generator.Sampling.GREEDY, eos);
                assertArrayEquals(Arrays.copyOf(want, firstEos + 1), stopped, c + " eos " + eos);
                // maxNew 0: the prompt only
                assertArrayEquals(prompt, Generator.generate(m, prompt, 0, Generator.Sampling.GREEDY, null));
                // never past the position limit
                int P = m.cfg.maxPositions();
                if (P <= 128) {
                    int[] longPrompt = new SplittableRandom(1)
                            .ints(P - 2, 0, m.cfg.vocabSize())
                            .toArray();
                    assertEquals(P, Generator.generate(m, longPrompt, 10, Generator.Sampling.GREEDY, null).length, c);
                }
                assertThrows(
                        IllegalArgumentException.class,
                        () -> Generator.generate(m, new int[0], 3, Generator.Sampling.GREEDY, null));
            }
        }
    }

    @Test
    void argmaxTakesTheFirstOfTies() {
        assertEquals(1, Generator.argmax(new float[] {0, 3, 3, 1}));
        assertEquals(0, Generator.argmax(new float[] {2}));
    }

    static double[] frequencies(float[] logits, Generator.Sampling s, int n) {
        SplittableRandom rng = new SplittableRandom(s.seed());
        double[] f = new double[logits.length];
        for (int i = 0; i < n; i++) {
            f[Generator.sample(logits, s, rng)] += 1.0 / n;
        }
        return f;
    }

    @Test
    void samplingFollowsTemperatureAndNucleus() {
        int n = 40_000;
        double tol = 0.015;
        // probabilities 0.1, 0.6, 0.3 at temperature 1
        float[] logits = {(float) Math.log(0.1), (float) Math.log(0.6), (float) Math.log(0.3)};
        double[] f = frequencies(logits, new Generator.Sampling(false, 1, 1, 3), n);
        assertEquals(0.1, f[0], tol);
        assertEquals(0.6, f[1], tol);
        assertEquals(0.3, f[2], tol);
        // temperature 2: p ~ sqrt(p), renormalised
        double z = Math.sqrt(0.1) + Math.sqrt(0.6) + Math.sqrt(0.3);
        f = frequencies(logits, new Generator.Sampling(false, 2, 1, 4), n);
        assertEquals(Math.sqrt(0.1) / z, f[0], tol);
        assertEquals(Math.sqrt(0.6) / z, f[1], tol);
        // top-p 0.5: the top token alone reaches it
        f = frequencies(logits, new Generator.Sampling(false, 1, 0.5, 5), 2000);
        assertEquals(1.0, f[1], 1e-12);
        // top-p 0.7: the two most likely, renormalised (0.6/0.9, 0.3/0.9)
        f = frequencies(logits, new Generator.Sampling(false, 1, 0.7, 6), n);
        assertEquals(0, f[0], 1e-12);
        assertEquals(2.0 / 3, f[1], tol);
        assertEquals(1.0 / 3, f[2], tol);
        // a tiny temperature is greedy
        f = frequencies(logits, new Generator.Sampling(false, 1e-4, 1, 7), 500);
        assertEquals(1.0, f[1], 1e-12);
    }

    @Test
    void sampledGenerationIsReproducibleBySeed() {
        try (Arena arena = Arena.ofConfined();
                Model m = Models.load(
                        Checkpoint.open(TestData.hfTiny("llama"), arena), new ScalarKernels(), Model.Mode.INFER)) {
            int[] prompt = {1, 2, 3};
            int[] a = Generator.generate(m, prompt, 20, new Generator.Sampling(false, 1.5, 0.95, 11), null);
            int[] b = Generator.generate(m, prompt, 20, new Generator.Sampling(false, 1.5, 0.95, 11), null);
            int[] c = Generator.generate(m, prompt, 20, new Generator.Sampling(false, 1.5, 0.95, 12), null);
            assertArrayEquals(a, b);
            assertTrue(!Arrays.equals(a, c), "seeds 11 and 12 sampled the same 20 tokens");
            assertArrayEquals(prompt, Arrays.copyOf(a, 3));
        }
    }
}
