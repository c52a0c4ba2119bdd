package bitnet.api;

/**
 * Receives each token {@link BitnetModel#generate} produces, on the generating thread, as soon
 * as it is chosen (before the next forward pass). Interrupting the generating thread stops the
 * generation at the next token with a {@link java.util.concurrent.CancellationException}.
 */
@FunctionalInterface
public interface TokenListener {
    /**
     * Called once per new token.
     *
     * @param tokenId the id just generated
     */
    void onToken(int tokenId);
}
