package bitnet.api;

import bitnet.engine.train.FakeQuants;
import bitnet.engine.train.Grokfast;
import bitnet.engine.train.TrainConfig;

/**
 * Settings of {@link BitnetModel#fineTune}: AdamW with linear warmup and cosine decay to a floor,
 * global gradient-norm clipping, optional Grokfast filtering, gradient accumulation, periodic
 * held-out evaluation with a divergence guard (it restores the last good state and halves the
 * learning rate after a NaN/Inf or after {@code patience} evaluations without improvement), and
 * optionally quantization-aware training (the forward pass sees quantized weights, the
 * straight-through estimator updates the latent FP32 ones). Immutable; safe to share between
 * threads.
 *
 * @param steps optimizer steps (at least 1)
 * @param batchSize sequences per micro-batch
 * @param seqLen tokens per sequence
 * @param gradAccum micro-batches per step
 * @param lr peak learning rate
 * @param minLrRatio the cosine floor as a fraction of lr
 * @param warmupSteps linear warmup steps
 * @param maxGradNorm global gradient-norm clip (0: off)
 * @param weightDecay AdamW's decoupled weight decay
 * @param beta1 AdamW's first-moment decay
 * @param beta2 AdamW's second-moment decay
 * @param eps AdamW's epsilon
 * @param grokfast {@code off}, {@code ema:ALPHA:LAMBDA} or {@code ma:WINDOW:LAMBDA}
 * @param qat {@code off}, or a quantizer spec ({@code twn}, {@code absmean}, {@code seed:TAU}) for QAT
 * @param evalEvery evaluate held-out perplexity every this many steps (0: only at the end)
 * @param evalWindows held-out windows per periodic evaluation
 * @param patience evaluations without improvement before the guard restores
 * @param checkpointEvery write a resumable checkpoint every this many steps (0: never; only with a
 *     {@link FineTuneOutput})
 * @param seed the batch sampler's seed
 */
public record FineTuneSettings(
        int steps,
        int batchSize,
        int seqLen,
        int gradAccum,
        double lr,
        double minLrRatio,
        int warmupSteps,
        double maxGradNorm,
        double weightDecay,
        double beta1,
        double beta2,
        double eps,
        String grokfast,
        String qat,
        int evalEvery,
        int evalWindows,
        int patience,
        int checkpointEvery,
        long seed) {
    /**
     * Checks the values.
     *
     * @throws IllegalArgumentException for a count below its minimum, a non-positive lr, or an
     *     unknown Grokfast or QAT spec
     */
    public FineTuneSettings {
        if (steps < 1 || batchSize < 1 || seqLen < 1 || gradAccum < 1) {
            throw new IllegalArgumentException("steps, batch size, sequence length and grad-accum must be >= 1");
        }
        if (evalEvery < 0 || evalWindows < 1 || patience < 1 || checkpointEvery < 0 || warmupSteps < 0) {
            throw new IllegalArgumentException(
                    "evalEvery, checkpointEvery and warmup must be >= 0, evalWindows and patience >= 1");
        }
        if (!(lr > 0)) {
            throw new IllegalArgumentException("lr must be > 0, not " + lr);
        }
        if (qat == null) {
            throw new IllegalArgumentException("qat must be 'off' or a quantizer spec");
        }
        Grokfast.parse(grokfast);
        FakeQuants.of(qat);
    }

    /**
     * The short form: AdamW betas 0.9 / 0.95, no weight decay, warmup of min(50, steps / 2) steps,
     * cosine to 0.1 x lr, clipping at 1.0, no Grokfast, no gradient accumulation, 16 evaluation
     * windows, no checkpoints.
     *
     * @param steps optimizer steps
     * @param batchSize sequences per step
     * @param seqLen tokens per sequence
     * @param lr peak learning rate
     * @param qat {@code off} or a quantizer spec
     * @param evalEvery evaluate every this many steps (0: only at the end)
     * @param seed the batch sampler's seed
     */
    public FineTuneSettings(int steps, int batchSize, int seqLen, double lr, String qat, int evalEvery, long seed) {
        this(
                steps,
                batchSize,
                seqLen,
                1,
                lr,
                0.1,
                Math.min(50, steps / 2),
                1.0,
                0,
                0.9,
                0.95,
                1e-8,
                "off",
                qat,
                evalEvery,
                16,
                1000,
                0,
                seed);
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

    /** The engine's training configuration. */
    TrainConfig config() {
        return new TrainConfig(
                steps,
                batchSize,
                seqLen,
                gradAccum,
                (float) lr,
                (float) minLrRatio,
                warmupSteps,
                (float) maxGradNorm,
                (float) weightDecay,
                (float) beta1,
                (float) beta2,
                (float) eps,
                Grokfast.parse(grokfast),
                evalEvery == 0 ? steps : evalEvery,
                evalWindows,
                patience,
                checkpointEvery,
                seed);
    }
}
