package bitnet.engine.train;

/**
 * Settings of a training run. Learning rate: linear warmup from 0 over warmupSteps, then cosine
 * decay to minLrRatio * lr at the last step. Evaluation every evalEvery steps on evalWindows
 * windows; the divergence guard restores the last good state after a NaN/inf loss or gradient,
 * or after patience evaluations without improvement, and halves the learning rate.
 */
public record TrainConfig(
        int steps,
        int batchSize,
        int seqLen,
        int gradAccum,
        float lr,
        float minLrRatio,
        int warmupSteps,
        float maxGradNorm,
        float weightDecay,
        float beta1,
        float beta2,
        float eps,
        Grokfast grokfast,
        int evalEvery,
        int evalWindows,
        int patience,
        int checkpointEvery,
        long seed) {

    public static TrainConfig defaults() {
        return new TrainConfig(
                600,
                16,
                256,
                1,
                1e-4f,
                0.1f,
                50,
                1.0f,
                0.0f,
                0.9f,
                0.95f,
                1e-8f,
                Grokfast.parse("ema:0.98:2.0"),
                100,
                16,
                3,
                100,
                42);
    }

    /** The learning rate at step (0-based). */
    public float lrAt(int step) {
        if (warmupSteps > 0 && step < warmupSteps) {
            return lr * (step + 1) / warmupSteps;
        }
        int decaySteps = Math.max(1, steps - warmupSteps);
        double progress = Math.min(1.0, (double) (step - warmupSteps) / decaySteps);
        double cos = 0.5 * (1 + Math.cos(Math.PI * progress));
        return (float) (lr * (minLrRatio + (1 - minLrRatio) * cos));
    }

    public Optimizer.Settings optimizer() {
        return new Optimizer.Settings(lr, weightDecay, beta1, beta2, eps, grokfast);
    }

    public TrainConfig withSteps(int s) {
        return new TrainConfig(
                s,
                batchSize,
                seqLen,
                gradAccum,
                lr,
                minLrRatio,
                warmupSteps,
                maxGradNorm,
                weightDecay,
                beta1,
                beta2,
                eps,
                grokfast,
                evalEvery,
                evalWindows,
                patience,
                checkpointEvery,
                seed);
    }

    public TrainConfig withLr(float l) {
        return new TrainConfig(
                steps,
                batchSize,
                seqLen,
                gradAccum,
                l,
                minLrRatio,
                warmupSteps,
                maxGradNorm,
                weightDecay,
                beta1,
                beta2,
                eps,
                grokfast,
                evalEvery,
                evalWindows,
                patience,
                checkpointEvery,
                seed);
    }
}
