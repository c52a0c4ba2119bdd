package bitnet.api;

import bitnet.engine.compress.CompressConfig;
import bitnet.engine.compress.Pipeline;
import bitnet.engine.compress.StreamingCompressor;
import bitnet.engine.util.OutputDir;
import bitnet.kernels.Backends;
import bitnet.kernels.Kernels;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinWorkerThread;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Compresses a model to ternary: load, quantize, measure, fine-tune when the degradation calls for
 * it, write the packed ternary file and the dequantized FP16 model (atomically: OUT.partial, then
 * renamed), measure the written files, apply the quality gates; or, when streaming, tensor by
 * tensor with memory independent of the model's size.
 *
 * <p>Each call creates its own compute backend and its own worker pool (daemon threads named
 * {@code bitnet-compress-N} and {@code bitnet-cpu-N}) and ends them before returning, whatever
 * happens; the common ForkJoin pool is not used by the compression's own parallel loops.
 *
 * <p>Cancellation: interrupting the calling thread stops the run at its next progress point
 * (every fine-tuning step, every stage, every tensor when streaming), removes OUT.partial, and
 * throws {@link CancellationException} with the thread's interrupt status set again. No output
 * directory is left and no thread of the run keeps running.
 *
 * <p>When the heap is too small it throws {@link OutOfMemoryException} (saying what to do) and
 * leaves no partial output.
 *
 * <p>Thread-safe: concurrent calls share nothing (two runs writing the same output are kept
 * apart by its lock file).
 */
public final class Compressor {
    private static final AtomicInteger POOLS = new AtomicInteger();

    private Compressor() {
    }

    /**
     * Compresses without a listener.
     *
     * @param settings what to compress, where, and how
     * @return the typed result; {@link CompressResult#success()} is false when a quality gate failed
     * @throws IOException when writing fails
     * @throws bitnet.io.BadInputException when an input is missing or malformed, or the output is refused
     * @throws CancellationException when the calling thread was interrupted
     */
    public static CompressResult compress(CompressSettings settings) throws IOException {
        return compress(settings, ProgressListener.NONE);
    }

    /**
     * Compresses, reporting progress.
     *
     * @param settings what to compress, where, and how
     * @param listener receives every stage, evaluation, fine-tuning step and (streaming) tensor event
     * @return the typed result; {@link CompressResult#success()} is false when a quality gate failed
     * @throws IOException when writing fails
     * @throws bitnet.io.BadInputException when an input is missing or malformed, or the output is refused
     * @throws CancellationException when the calling thread was interrupted
     */
    public static CompressResult compress(CompressSettings settings, ProgressListener listener) throws IOException {
        if (Thread.currentThread().isInterrupted()) {
            throw new CancellationException("interrupted before compression started");
        }
        CompressConfig c = settings.toConfig();
        AtomicBoolean cancel = new AtomicBoolean();
        ProgressListener l = listener == null ? ProgressListener.NONE : listener;
        java.util.function.Consumer<Map<String, Object>> events = e -> {
            if (cancel.get()) {
                throw new CancellationException("compression cancelled");
            }
            l.onProgress(new ProgressListener.Event(String.valueOf(e.get("event")), e));
        };
        int poolId = POOLS.incrementAndGet();
        AtomicInteger threadId = new AtomicInteger();
        ForkJoinPool pool = new ForkJoinPool(Math.max(1, c.threads == 0 ? Runtime.getRuntime().availableProcessors() : c.threads), p -> {
            ForkJoinWorkerThread t = ForkJoinPool.defaultForkJoinWorkerThreadFactory.newThread(p);
            t.setName("bitnet-compress-" + poolId + "-" + threadId.getAndIncrement());
            t.setDaemon(true);
            return t;
        }, null, false);
        boolean cancelled = false;
        try (Kernels k = Backends.log(Backends.select(c.device, c.threads))) {
            // the run's parallel streams (quantizers, QAT) go to this pool, not the common one
            Future<CompressResult> f = pool.submit(() -> {
                if (Pipeline.streams(c)) {
                    Map<String, Object> r = StreamingCompressor.run(c, k, settings.overwrite(), events);
                    return CompressResult.of(r, List.of());
                }
                Pipeline p = new Pipeline(c, k, settings.overwrite()).listener(events);
                Map<String, Object> r = p.run();
                return CompressResult.of(r, p.layers());
            });
            while (true) {
                try {
                    return f.get();
                } catch (OutOfMemoryError e) {
                    removePartial(c);
                    throw new OutOfMemoryException("compressing " + c.model_path, e);
                } catch (InterruptedException e) {
                    // tell the run to stop at its next progress point, then wait for it to unwind
                    cancelled = true;
                    cancel.set(true);
                } catch (ExecutionException e) {
                    Throwable t = e.getCause();
                    if (t instanceof CancellationException && cancelled) {
                        removePartial(c);
                        throw new CancellationException("compression of " + c.model_path + " cancelled; no output written");
                    }
                    if (t instanceof OutOfMemoryError oom) {
                        removePartial(c);
                        throw new OutOfMemoryException("compressing " + c.model_path, oom);
                    }
                    if (t instanceof IOException io) {
                        throw io;
                    }
                    if (t instanceof RuntimeException re) {
                        throw re;
                    }
                    if (t instanceof Error err) {
                        throw err;
                    }
                    throw new IllegalStateException(t);
                }
            }
        } finally {
            pool.shutdownNow();
            boolean interrupted = Thread.interrupted();
            try {
                pool.awaitTermination(1, TimeUnit.MINUTES);
            } catch (InterruptedException e) {
                interrupted = true;
            }
            if (interrupted || cancelled) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private static void removePartial(CompressConfig c) {
        Path out = Path.of(c.output_path).toAbsolutePath().normalize();
        try {
            OutputDir.deleteTree(out.resolveSibling(out.getFileName() + ".partial"));
        } catch (IOException e) {
            throw new UncheckedIOException("cancelled, but cannot remove " + out + ".partial", e);
        }
    }
}
