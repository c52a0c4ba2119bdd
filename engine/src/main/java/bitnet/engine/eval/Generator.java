package bitnet.engine.eval;

import bitnet.engine.model.KvCache;
import bitnet.engine.model.Model;
import bitnet.kernels.Buf;
import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Autoregressive generation with a KV cache: greedy (argmax, first index on ties like torch) or
 * temperature + top-p sampling from a seeded generator. Stops after maxNew tokens or at an
 * end-of-sequence id.
 */
public final class Generator {
    private Generator() {}

    public record Sampling(boolean greedy, double temperature, double topP, long seed) {
        public static final Sampling GREEDY = new Sampling(true, 1, 1, 0);
    }

    /** Returns prompt + new ids. eos may be null (never stop early). */
    public static int[] generate(Model m, int[] prompt, int maxNew, Sampling s, Integer eos) {
        return generate(m, prompt, maxNew, s, eos, id -> {});
    }

    /** As {@link #generate(Model, int[], int, Sampling, Integer)}, calling onToken with each new id as it is chosen. */
    public static int[] generate(
            Model m, int[] prompt, int maxNew, Sampling s, Integer eos, java.util.function.IntConsumer onToken) {
        if (prompt.length == 0) {
            throw new IllegalArgumentException("an empty prompt: give at least one token");
        }
        int V = m.cfg.vocabSize();
        int total = Math.min(prompt.length + maxNew, m.cfg.maxPositions());
        int[] out = Arrays.copyOf(prompt, total);
        SplittableRandom rng = new SplittableRandom(s.seed());
        float[] last = new float[V];
        try (KvCache cache = m.newCache(total)) {
            Buf logits = m.forward(prompt, 1, prompt.length, cache);
            int n = prompt.length;
            while (n < total) {
                downloadRow(m, logits, n == prompt.length ? prompt.length - 1 : 0, V, last);
                // a NaN row would make argmax answer token 0 silently
                bitnet.engine.util.NonFiniteException.check(
                        "logits at position " + (n - 1) + ", vocabulary index", last, V);
                int next = s.greedy() ? argmax(last) : sample(last, s, rng);
                out[n++] = next;
                onToken.accept(next);
                if (eos != null && next == eos) {
                    break;
                }
                if (n < total) {
                    logits = m.forward(new int[] {next}, 1, 1, cache);
                }
            }
            return Arrays.copyOf(out, n);
        }
    }

    private static void downloadRow(Model m, Buf logits, int row, int V, float[] dst) {
        float[] all = new float[(row + 1) * V];
        m.k.download(logits, all, all.length);
        System.arraycopy(all, row * V, dst, 0, V);
    }

    static int argmax(float[] x) {
        int best = 0;
        for (int i = 1; i < x.length; i++) {
            if (x[i] > x[best]) {
                best = i;
            }
        }
        return best;
    }

    static int sample(float[] logits, Sampling s, SplittableRandom rng) {
        int V = logits.length;
        double t = Math.max(s.temperature(), 1e-6);
        double max = Double.NEGATIVE_INFINITY;
        for (float v : logits) {
            max = Math.max(max, v / t);
        }
        double[] p = new double[V];
        double sum = 0;
        for (int i = 0; i < V; i++) {
            p[i] = Math.exp(logits[i] / t - max);
            sum += p[i];
        }
        Integer[] order = new Integer[V];
        for (int i = 0; i < V; i++) {
            order[i] = i;
            p[i] /= sum;
        }
        Arrays.sort(order, (a, b) -> Double.compare(p[b], p[a]));
        // nucleus: the smallest prefix whose mass reaches top_p (always at least one token)
        double mass = 0;
        int keep = 0;
        while (keep < V && (keep == 0 || mass < s.topP())) {
            mass += p[order[keep]];
            keep++;
        }
        double r = rng.nextDouble() * mass;
        double acc = 0;
        for (int i = 0; i < keep; i++) {
            acc += p[order[i]];
            if (r < acc) {
                return order[i];
            }
        }
        return order[keep - 1];
    }
}
