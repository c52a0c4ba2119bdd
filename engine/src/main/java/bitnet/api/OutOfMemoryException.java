package bitnet.api;

/**
 * The Java heap was too small for the model or the run: says how large the heap was and what to
 * do (more heap with {@code -Xmx}, or streaming compression, whose memory does not grow with the
 * model). Thrown instead of the {@link OutOfMemoryError} itself (its cause), after the run's
 * partial output has been removed.
 */
public final class OutOfMemoryException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /**
     * An explanation of the failure.
     *
     * @param what what was running, e.g. "compressing /models/x"
     * @param cause the error the JVM threw
     */
    public OutOfMemoryException(String what, OutOfMemoryError cause) {
        super(
                String.format(
                        java.util.Locale.ROOT,
                        "out of memory %s with a %d MB heap: give the JVM more (-Xmx, e.g."
                                + " BITNET_JAVA_OPTS=-Xmx8g), or compress with fine-tuning off and streaming on, whose memory does not grow"
                                + " with the model",
                        what,
                        Runtime.getRuntime().maxMemory() >> 20),
                cause);
    }
}
