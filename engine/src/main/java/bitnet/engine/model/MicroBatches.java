package bitnet.engine.model;

import bitnet.engine.util.Memory;
import java.util.Locale;
import java.util.logging.Logger;

/**
 * Splits a loss batch into micro-batches of whole rows when its activations would not
 * fit the free heap (gradient accumulation: {@link Model#loss} scales every row by the whole
 * batch's target count, so the result is the full batch's). The size comes from an estimate of
 * the floats kept per token; should a forward still run out of memory before its backward
 * started, the micro-batch is halved and retried. The split is logged once per size.
 */
final class MicroBatches {
    private static final Logger LOG = Logger.getLogger("bitnet");
    /** Fraction of the free heap the activations of one micro-batch may take. */
    private static final double SHARE = 0.6;

    private static volatile int lastLogged = -1;
    private static volatile long lastGc = System.nanoTime() - 120_000_000_000L;
    private static final ThreadLocal<boolean[]> BACKWARD = ThreadLocal.withInitial(() -> new boolean[1]);

    private MicroBatches() {}

    interface Chunk {
        /** Sum of the loss over rows [b0, b0+nb). */
        double run(int b0, int nb);
    }

    /** Marks that a backward began: running out of memory after this cannot be retried (gradients are half added). */
    static void backwardStarted() {
        BACKWARD.get()[0] = true;
    }

    /**
     * Floats kept per token by a forward and backward: per layer, the residual, norms, q/k/v,
     * attention output and MLP activations, plus their gradient scratch. Not the logits: the loss
     * takes them in chunks of rows of a fixed size ({@link Model#headChunkRows}). Without grad, one
     * layer's worth: every layer shares one set (Model#sharedActs).
     */
    static long floatsPerToken(Model m, boolean grad) {
        var c = m.cfg;
        long qd = (long) c.numHeads() * c.headDim(), kvd = (long) c.numKvHeads() * c.headDim();
        long perLayer = 6L * c.hiddenSize() + 2 * qd + 2 * kvd + 3L * c.intermediateSize();
        if (!grad) {
            return perLayer + 4L * c.hiddenSize();
        }
        long scratch = 2L * c.hiddenSize() + 2 * qd + 2 * kvd + 3L * c.intermediateSize();
        return (long) c.numLayers() * perLayer + scratch + 5L * c.hiddenSize();
    }

    /** Rows per micro-batch that fit the free heap now (at least 1, at most B). */
    static int rowsThatFit(Model m, int B, int T, boolean grad) {
        String forced = System.getProperty("bitnet.microBatch");
        if (forced != null) {
            return Math.max(1, Math.min(B, Integer.parseInt(forced)));
        }
        long perRow = 4L * T * floatsPerToken(m, grad);
        // a single Java array holds at most 2^31-1 floats: the widest activation of one micro-batch too
        var c = m.cfg;
        long widest = Math.max(Math.max(c.hiddenSize(), c.intermediateSize()), (long) c.numHeads() * c.headDim());
        long maxByArray = (Integer.MAX_VALUE - 8L) / ((long) T * widest);
        long rows = Math.min(Math.min(B, maxByArray), (long) (SHARE * Memory.available()) / Math.max(1, perRow));
        long now = System.nanoTime();
        if (rows < B && now - lastGc > 60_000_000_000L) {
            // "free" counts garbage as used: collect (at most once a minute) before splitting
            System.gc();
            lastGc = now;
            rows = Math.min(Math.min(B, maxByArray), (long) (SHARE * Memory.available()) / Math.max(1, perRow));
        }
        return (int) Math.max(1, rows);
    }

    static double run(Model m, int B, int T, boolean grad, Chunk chunk) {
        int micro = rowsThatFit(m, B, T, grad);
        if (micro >= B) {
            return chunk.run(0, B);
        }
        double sum = 0;
        int b0 = 0;
        while (b0 < B) {
            int nb = Math.min(micro, B - b0);
            log(m, B, T, grad, micro);
            BACKWARD.get()[0] = false;
            try {
                sum += chunk.run(b0, nb);
            } catch (OutOfMemoryError e) {
                if (BACKWARD.get()[0] || micro == 1) {
                    throw e;
                }
                micro = Math.max(1, micro / 2);
                continue; // retry these rows smaller: nothing of them was accumulated yet
            }
            b0 += nb;
        }
        return sum;
    }

    private static void log(Model m, int B, int T, boolean grad, int micro) {
        if (lastLogged == micro) {
            return;
        }
        lastLogged = micro;
        long need = 4L * B * T * floatsPerToken(m, grad);
        LOG.info(String.format(
                Locale.ROOT,
                "batch %dx%d split into micro-batches of %d rows (gradient accumulation): "
                        + "its activations need about %s, %s of heap is free",
                B,
                T,
                micro,
                Memory.gib(need),
                Memory.gib(Memory.available())));
    }
}
