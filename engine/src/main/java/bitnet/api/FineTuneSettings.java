package bitnet.api;

/**
 * Settings of {@link BitnetModel#fineTune}: AdamW with linear warmup and cosine decay, gradient
 * clipping at 1.0, optionally quantization-aware (the forward pass sees ternary weights, the
 * straight-through estimator updates the latent FP32 ones). Immutable.
 *
 * @param steps optimizer steps (at least 1)
 * @param batchSize sequences per step
 * @param seqLen tokens per sequence
 * @param lr peak learning rate
 * @param qat {@code off}, or a quantizer spec ({@code twn}, {@code absmean}, {@code seed:TAU}) for QAT
 * @param evalEvery evaluate held-out perplexity every this many steps (0: only at the end)
 * @param seed the batch sampler's seed
 */
public record FineTuneSettings(int steps, int batchSize, int seqLen, double lr, String qat, int evalEvery, long seed) {
    /** Checks the values. */
    public FineTuneSettings {
        if (steps < 1 || batchSize < 1 || seqLen < 1 || evalEvery < 0) {
            throw new IllegalArgumentException("steps, batch size and sequence length must be >= 1, evalEvery >= 0");
        }
        if (!(lr > 0)) {
            throw new IllegalArgumentException("lr must be > 0, not " + lr);
        }
        if (qat == null) {
            throw new IllegalArgumentException("qat must be 'off' or a quantizer spec");
        }
    }

    /**
     * The compress pipeline's recipe: twn QAT at lr 2e-4, batches of 16 x 256 tokens.
     *
     * @param steps optimizer steps
     * @return the settings
     */
    public static FineTuneSettings qat(int steps) {
        return new FineTuneSettings(steps, 16, 256, 2e-4, "twn", 100, 42);
    }
}
