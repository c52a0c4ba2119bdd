package bitnet.engine.eval;

import bitnet.engine.model.Model;

/**
 * Perplexity by the rule of cli.md: the whole text tokenized as one string, non-overlapping
 * windows ids[i*L : (i+1)*L + 1] for i < windows, mean NLL over the L predicted tokens of each
 * window, exp of the mean. Windows are evaluated in batches.
 */
public final class Perplexity {
    public record Result(double ppl, double meanNll, long tokens, int windows) {}

    private Perplexity() {}

    /** How many full windows of L+1 tokens fit in n ids (capped at maxWindows). */
    public static int windowsFor(int n, int L, int maxWindows) {
        int w = 0;
        while (w < maxWindows && (long) (w + 1) * L + 1 <= n) {
            w++;
        }
        return w;
    }

    public static Result compute(Model m, int[] ids, int L, int maxWindows, int batch) {
        int windows = windowsFor(ids.length, L, maxWindows);
        if (windows == 0) {
            throw new IllegalArgumentException(
                    "text has " + ids.length + " tokens, fewer than one window of " + (L + 1));
        }
        double nllSum = 0;
        long count = 0;
        for (int w0 = 0; w0 < windows; w0 += batch) {
            int B = Math.min(batch, windows - w0);
            int[] in = new int[B * L];
            int[] tg = new int[B * L];
            for (int b = 0; b < B; b++) {
                int start = (w0 + b) * L;
                System.arraycopy(ids, start, in, b * L, L);
                System.arraycopy(ids, start + 1, tg, b * L, L);
            }
            double mean = bitnet.engine.util.NonFiniteException.check(
                    "the loss of windows " + w0 + ".." + (w0 + B - 1), m.loss(in, tg, B, L, false));
            nllSum += mean * B * L;
            count += (long) B * L;
        }
        double mean = nllSum / count;
        // exp overflows past a mean NLL of ~709: say so rather than print Infinity
        return new Result(
                bitnet.engine.util.NonFiniteException.check(
                        "the perplexity (exp of mean NLL " + mean + ")", Math.exp(mean)),
                mean,
                count,
                windows);
    }
}
