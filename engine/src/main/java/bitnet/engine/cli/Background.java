package bitnet.engine.cli;

import java.util.concurrent.CompletableFuture;
import java.util.function.Supplier;

/** Work a command overlaps with its model load: one daemon thread per task, never the kernels' pool. */
final class Background {
    private Background() {}

    /**
     * Runs work on a new daemon thread. {@link CompletableFuture#join} rethrows its exception
     * wrapped in a CompletionException, which Main unwraps to report the cause (a bad file: exit 3).
     */
    static <T> CompletableFuture<T> supply(Supplier<T> work) {
        return CompletableFuture.supplyAsync(work, r -> {
            Thread t = new Thread(r, "bitnet-background");
            t.setDaemon(true);
            t.start();
        });
    }
}
