package bitnet.engine.cli;

import bitnet.api.FineTuneSettings;
import picocli.CommandLine.Option;

/** Training-loop flags shared by finetune (and the compress overrides). */
public class TrainArgs {
    @Option(names = "--steps", defaultValue = "600", description = "optimizer steps")
    int steps;

    @Option(names = "--batch-size", defaultValue = "16")
    int batchSize;

    @Option(names = "--seq-len", defaultValue = "256")
    int seqLen;

    @Option(names = "--grad-accum", defaultValue = "1", description = "micro-batches per step")
    int gradAccum;

    @Option(names = "--lr", defaultValue = "1e-4")
    float lr;

    @Option(names = "--min-lr-ratio", defaultValue = "0.1", description = "cosine floor as a fraction of --lr")
    float minLrRatio;

    @Option(names = "--warmup", defaultValue = "50", description = "linear warmup steps")
    int warmup;

    @Option(names = "--weight-decay", defaultValue = "0.0")
    float weightDecay;

    @Option(names = "--betas", defaultValue = "0.9,0.95", split = ",")
    float[] betas;

    @Option(names = "--eps", defaultValue = "1e-8")
    float eps;

    @Option(
            names = "--grokfast",
            defaultValue = "ema:0.98:2.0",
            description = "off | ema:ALPHA:LAMBDA | ma:WINDOW:LAMBDA")
    String grokfast;

    @Option(names = "--max-grad-norm", defaultValue = "1.0", description = "global gradient-norm clip (0 = off)")
    float maxGradNorm;

    @Option(names = "--eval-every", defaultValue = "100")
    int evalEvery;

    @Option(names = "--eval-windows", defaultValue = "16", description = "held-out windows per periodic evaluation")
    int evalWindows;

    @Option(
            names = "--patience",
            defaultValue = "3",
            description = "evaluations without improvement before the guard restores")
    int patience;

    @Option(names = "--checkpoint-every", defaultValue = "50")
    int checkpointEvery;

    @Option(names = "--seed", defaultValue = "42")
    long seed;

    /** The settings these flags give, with --qat. IllegalArgumentException for a bad value. */
    FineTuneSettings settings(String qat) {
        if (betas.length != 2) {
            throw new IllegalArgumentException("--betas takes two numbers: B1,B2");
        }
        if (steps < 1 || batchSize < 1 || seqLen < 1 || gradAccum < 1) {
            throw new IllegalArgumentException("--steps, --batch-size, --seq-len and --grad-accum must be >= 1");
        }
        return new FineTuneSettings(
                steps,
                batchSize,
                seqLen,
                gradAccum,
                lr,
                minLrRatio,
                warmup,
                maxGradNorm,
                weightDecay,
                betas[0],
                betas[1],
                eps,
                grokfast,
                qat,
                evalEvery,
                evalWindows,
                patience,
                checkpointEvery,
                seed);
    }
}
