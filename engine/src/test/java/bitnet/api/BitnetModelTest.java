package bitnet.api;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CancellationException;
import org.junit.jupiter.api.Test;

/**
 * The model half of the public API on the demo model: the per-token callback sees exactly the
 * generated tokens, perplexity is exp of the loss the logits give, closing ends the backend's
 * threads and makes the model unusable, and an interrupted fine-tune stops with a
 * CancellationException.
 */
class BitnetModelTest {
    static final Path DEMO = Path.of("..", "src", "demo", "model");

    @Test
    void generateCallbackLogitsPerplexityAndClose() {
        Set<Thread> before = new HashSet<>(Thread.getAllStackTraces().keySet());
        BitnetModel m =
                BitnetModel.load(DEMO, ModelOptions.defaults().withDevice("cpu").withThreads(2));
        int[] prompt = m.tokenize("The history of");
        assertEquals("The history of", m.detokenize(prompt));
        List<Integer> seen = new ArrayList<>();
        int[] out = m.generate(prompt, 10, Sampling.greedyDecoding(), false, seen::add);
        assertEquals(prompt.length + 10, out.length);
        assertArrayEquals(prompt, Arrays.copyOf(out, prompt.length));
        assertEquals(
                Arrays.stream(out).skip(prompt.length).boxed().toList(), seen, "callback saw every new token in order");

        // greedy: each new token is the argmax of the logits of the sequence before it
        int T = out.length - 1;
        float[] logits = m.logits(Arrays.copyOf(out, T), 1, T);
        int V = m.vocabSize();
        for (int t = prompt.length - 1; t < T; t++) {
            int best = 0;
            for (int v = 1; v < V; v++) {
                if (logits[t * V + v] > logits[t * V + best]) {
                    best = v;
                }
            }
            assertEquals(out[t + 1], best, "token " + (t + 1));
        }
        // perplexity of one window = exp(mean next-token loss of that window)
        int[] window = Arrays.copyOf(out, T + 1);
        PerplexityResult p = m.perplexity(window, T, 1, 1);
        assertEquals(Math.exp(m.loss(window, 1, T + 1)), p.perplexity(), 1e-3 * p.perplexity());
        assertTrue(
                Thread.getAllStackTraces().keySet().stream()
                        .anyMatch(t -> !before.contains(t) && t.getName().startsWith("bitnet-cpu")),
                "a 2-thread backend starts a worker");

        m.close();
        assertThrows(IllegalStateException.class, () -> m.logits(prompt, 1, prompt.length));
        long alive = 0;
        for (int i = 0; i < 50; i++) {
            alive = Thread.getAllStackTraces().keySet().stream()
                    .filter(t ->
                            !before.contains(t) && t.isAlive() && t.getName().startsWith("bitnet"))
                    .count();
            if (alive == 0) {
                break;
            }
            try {
                Thread.sleep(100);
            } catch (InterruptedException e) {
                throw new AssertionError(e);
            }
        }
        assertEquals(0, alive, "the model's threads end with it");
    }

    @Test
    void fineTuneRunsAndStopsWhenInterrupted() throws Exception {
        String text =
                Files.readString(Path.of("..", "src", "demo", "heldout.txt")).substring(0, 20000);
        try (BitnetModel m =
                BitnetModel.load(DEMO, ModelOptions.defaults().withDevice("cpu").withTrainable(true))) {
            int[] ids = m.tokenize(text);
            int[] train = Arrays.copyOfRange(ids, 0, ids.length - 300);
            int[] eval = Arrays.copyOfRange(ids, ids.length - 300, ids.length);
            FineTuneSettings s = new FineTuneSettings(3, 2, 64, 2e-4, "twn", 0, 1);
            List<String> events = new ArrayList<>();
            FineTuneResult r = m.fineTune(train, eval, s, e -> events.add(e.kind()));
            assertEquals(3, r.steps());
            assertTrue(Double.isFinite(r.pplBefore()) && Double.isFinite(r.pplAfter()), r.toString());
            assertEquals(3, events.stream().filter("train"::equals).count(), events.toString());

            Thread.currentThread().interrupt();
            try {
                assertThrows(CancellationException.class, () -> m.fineTune(train, eval, s, null));
            } finally {
                Thread.interrupted();
            }
        }
    }

    @Test
    void trainStepsTimesEachStep() throws Exception {
        try (BitnetModel m =
                BitnetModel.load(DEMO, ModelOptions.defaults().withDevice("cpu").withTrainable(true))) {
            int[] ids = new int[2 * 16];
            for (int i = 0; i < ids.length; i++) {
                ids[i] = (7 * i + 3) % m.vocabSize();
            }
            StepSettings st = new StepSettings(1e-4, 0, 0.9, 0.95, 1e-8, "none", "twn");
            long[] ns = new long[4];
            java.util.Arrays.fill(ns, -1);
            long t0 = System.nanoTime();
            float[] losses = m.trainSteps(ids, 2, 16, 3, st, ns);
            long wall = System.nanoTime() - t0;
            assertEquals(3, losses.length);
            long sum = 0;
            for (int i = 0; i < 3; i++) {
                assertTrue(ns[i] > 0, "step " + i + ": " + ns[i]);
                sum += ns[i];
            }
            assertTrue(sum <= wall, sum + " ns of steps in " + wall + " ns");
            assertEquals(-1, ns[3], "past the steps");
            IllegalArgumentException e =
                    assertThrows(IllegalArgumentException.class, () -> m.trainSteps(ids, 2, 16, 3, st, new long[2]));
            assertTrue(e.getMessage().contains("2 step times for 3 steps"), e.getMessage());
        }
    }
}
