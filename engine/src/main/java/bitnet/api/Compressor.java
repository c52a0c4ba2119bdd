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
    private Compressor() {}

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
        CompressConfig c = settings.toConfig();
        ProgressListener l = listener == null ? ProgressListener.NONE : listener;
        try (Kernels k = Backends.log(Backends.select(c.device, c.threads))) {
            return Workers.run("compress", c.threads, cancelled -> {
                java.util.function.Consumer<Map<String, Object>> events = e -> {
                    if (cancelled.getAsBoolean()) {
                        throw new CancellationException("compression cancelled");
                    }
                    l.onProgress(new ProgressListener.Event(String.valueOf(e.get("event")), e));
                };
                if (Pipeline.streams(c)) {
                    return CompressResult.of(StreamingCompressor.run(c, k, settings.overwrite(), events), List.of());
                }
                Pipeline p = new Pipeline(c, k, settings.overwrite()).listener(events);
                Map<String, Object> r = p.run();
                return CompressResult.of(r, p.layers());
            });
        } catch (CancellationException e) {
            removePartial(c);
            throw new CancellationException("compression of " + c.model_path + " cancelled; no output written");
        } catch (Workers.Failure f) {
            Throwable t = f.getCause();
            if (t instanceof CancellationException) {
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

    private static void removePartial(CompressConfig c) {
        Path out = Path.of(c.output_path).toAbsolutePath().normalize();
        try {
            OutputDir.deleteTree(out.resolveSibling(out.getFileName() + ".partial"));
        } catch (IOException e) {
            throw new UncheckedIOException("cancelled, but cannot remove " + out + ".partial", e);
        }
    }
}
