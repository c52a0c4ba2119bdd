package bitnet.engine.util;

import java.util.Locale;

/** Heap figures for decisions (micro-batching) and for the one-line out-of-memory error. */
public final class Memory {
    private Memory() {}

    /** The heap limit (-Xmx) in bytes. */
    public static long maxHeap() {
        return Runtime.getRuntime().maxMemory();
    }

    /** Bytes that may still be allocated: the limit minus what is in use now. */
    public static long available() {
        Runtime r = Runtime.getRuntime();
        return r.maxMemory() - (r.totalMemory() - r.freeMemory());
    }

    public static String gib(long bytes) {
        return String.format(Locale.ROOT, "%.2f GiB", bytes / (double) (1L << 30));
    }

    /** One line: what ran out, the heap figures and what to change. */
    public static String outOfMemoryMessage(Throwable oom) {
        Runtime r = Runtime.getRuntime();
        String what = oom.getMessage() == null ? "" : " (" + oom.getMessage() + ")";
        return "out of memory" + what + ": heap limit " + gib(r.maxMemory()) + ", in use "
                + gib(r.totalMemory() - r.freeMemory())
                + "; use a smaller --batch-size/--seq-len (fine_tune_batch_size, fine_tune_sequence_length), fewer --threads, "
                + "or a larger heap (BITNET_JAVA_OPTS=-Xmx<size>; the launcher gives 75% of available memory by default)";
    }
}
