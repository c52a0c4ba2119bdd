package bitnet.api;

/**
 * What {@link BitnetModel#fineTune} did. Immutable.
 *
 * @param steps optimizer steps taken
 * @param pplBefore held-out perplexity before the first step (of the quantized weights under QAT)
 * @param pplAfter held-out perplexity after the last step
 * @param tokensPerSecond training throughput
 * @param seconds wall time of the training loop
 */
public record FineTuneResult(int steps, double pplBefore, double pplAfter, double tokensPerSecond, double seconds) {}
