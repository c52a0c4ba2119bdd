package bitnet.api;

import java.util.concurrent.CancellationException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinWorkerThread;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;

/**
 * Runs one long operation of the API on a pool of its own (named daemon threads
 * {@code bitnet-NAME-N-M}), so the parallel streams inside it (quantizers, QAT) never use the
 * common ForkJoin pool, and turns an interrupt of the calling thread into a cancellation the
 * operation polls: the caller waits for the operation to unwind, the pool is shut down, and the
 * caller's interrupt status is set again. Package-private.
 */
final class Workers {
    private static final AtomicInteger POOLS = new AtomicInteger();

    /** The operation: polls cancelled() at its progress points and throws CancellationException when true. */
    interface Work<T> {
        T run(BooleanSupplier cancelled) throws Exception;
    }

    /** What an operation threw, unwrapped. */
    static final class Failure extends Exception {
        private static final long serialVersionUID = 1L;

        Failure(Throwable cause) {
            super(cause);
        }
    }

    private Workers() {}

    /**
     * Runs work; returns its value, or throws: CancellationException when the caller was
     * interrupted and the work stopped, Failure wrapping whatever else the work threw.
     */
    static <T> T run(String name, int threads, Work<T> work) throws Failure {
        if (Thread.currentThread().isInterrupted()) {
            throw new CancellationException("interrupted before " + name + " started");
        }
        int poolId = POOLS.incrementAndGet();
        AtomicInteger threadId = new AtomicInteger();
        ForkJoinPool pool = new ForkJoinPool(
                Math.max(1, threads <= 0 ? Runtime.getRuntime().availableProcessors() : threads),
                p -> {
                    ForkJoinWorkerThread t = ForkJoinPool.defaultForkJoinWorkerThreadFactory.newThread(p);
                    t.setName("bitnet-" + name + "-" + poolId + "-" + threadId.getAndIncrement());
                    t.setDaemon(true);
                    return t;
                },
                null,
                false);
        AtomicBoolean cancel = new AtomicBoolean();
        boolean interrupted = false;
        try {
            Future<T> f = pool.submit(() -> work.run(cancel::get));
            while (true) {
                try {
                    return f.get();
                } catch (InterruptedException e) {
                    // ask the work to stop at its next progress point, then wait for it to unwind
                    interrupted = true;
                    cancel.set(true);
                } catch (ExecutionException e) {
                    throw new Failure(e.getCause());
                } catch (CancellationException e) {
                    throw e;
                } catch (RuntimeException | Error e) {
                    // a ForkJoinTask may rethrow the work's unchecked exception itself
                    throw new Failure(e);
                }
            }
        } finally {
            pool.shutdownNow();
            try {
                pool.awaitTermination(1, TimeUnit.MINUTES);
            } catch (InterruptedException e) {
                interrupted = true;
            }
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
