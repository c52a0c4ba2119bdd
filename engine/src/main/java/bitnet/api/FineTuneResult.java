package bitnet.api;

import java.util.List;

/**
 * What {@link BitnetModel#fineTune} did. Immutable list; its arrays are the caller's.
 *
 * @param steps optimizer steps taken
 * @param pplBefore held-out perplexity before the first step (of the quantized weights under QAT);
 *     NaN when a run was resumed
 * @param pplAfter held-out perplexity after the last step
 * @param tokensPerSecond training throughput
 * @param seconds wall time of the training loop
 * @param evalCurve one {@code {step, perplexity}} pair per periodic evaluation
 * @param restarts how often the divergence guard restored the last good state
 */
public record FineTuneResult(
        int steps,
        double pplBefore,
        double pplAfter,
        double tokensPerSecond,
        double seconds,
        List<double[]> evalCurve,
        int restarts) {
    /** Copies the list. */
    public FineTuneResult {
        evalCurve = List.copyOf(evalCurve);
    }
}
