package bitnet.api;

/**
 * A perplexity measurement (the project's rule: the text tokenized as one string, non-overlapping
 * windows of seqLen + 1 tokens, the mean next-token cross-entropy over the predicted tokens).
 * Immutable.
 *
 * @param perplexity exp(meanNll)
 * @param meanNll mean negative log-likelihood per predicted token, in nats
 * @param tokens predicted tokens counted
 * @param windows windows evaluated
 */
public record PerplexityResult(double perplexity, double meanNll, long tokens, int windows) {}
