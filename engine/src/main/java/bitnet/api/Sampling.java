package bitnet.api;

/**
 * How {@link BitnetModel#generate} picks each next token. Immutable; safe to share between threads.
 *
 * @param greedy argmax (the first index on ties, as torch); temperature, topP and seed are then unused
 * @param temperature logits are divided by it before the softmax (0 or more; 0 acts as a tiny temperature, i.e. argmax)
 * @param topP nucleus sampling: the smallest set of most likely tokens whose probability reaches topP (greater than 0;
 *     1 or more keeps every token)
 * @param seed the random generator's seed: the same seed, model and prompt give the same tokens
 */
public record Sampling(boolean greedy, double temperature, double topP, long seed) {
    /** Checks the values. */
    public Sampling {
        if (!greedy && !(temperature >= 0)) {
            throw new IllegalArgumentException("temperature must be >= 0, not " + temperature);
        }
        if (!(topP > 0)) {
            throw new IllegalArgumentException("top_p must be > 0, not " + topP);
        }
    }

    /**
     * Greedy decoding.
     *
     * @return argmax sampling
     */
    public static Sampling greedyDecoding() {
        return new Sampling(true, 1, 1, 0);
    }

    /**
     * Temperature and nucleus sampling from a seeded generator.
     *
     * @param temperature 0 or more
     * @param topP greater than 0
     * @param seed the generator's seed
     * @return the sampling settings
     */
    public static Sampling random(double temperature, double topP, long seed) {
        return new Sampling(false, temperature, topP, seed);
    }
}
