package bitnet.api;

import java.util.Map;

/**
 * Receives progress of a long operation ({@link Compressor#compress}, {@link BitnetModel#fineTune})
 * on the thread doing the work. Listeners should return quickly; an exception a listener throws
 * stops the operation (like a cancellation) and is rethrown to the caller.
 */
@FunctionalInterface
public interface ProgressListener {
    /**
     * One event.
     *
     * @param event what happened
     */
    void onProgress(Event event);

    /** A listener that ignores everything. */
    ProgressListener NONE = e -> {};

    /**
     * One progress event. Immutable.
     *
     * @param kind {@code stage_done} (a compression stage finished: {@code stage} names it),
     *     {@code eval} (a perplexity was measured), {@code train} (one fine-tuning step), {@code tensor}
     *     (streaming compression wrote one tensor), and the other events of {@code metrics.jsonl}
     * @param fields the event's fields as written to {@code metrics.jsonl} (unmodifiable)
     */
    record Event(String kind, Map<String, Object> fields) {
        /**
         * A field as a number.
         *
         * @param key the field name
         * @return its value, or NaN when absent or not a number
         */
        public double number(String key) {
            return fields.get(key) instanceof Number n ? n.doubleValue() : Double.NaN;
        }
    }
}
