/**
 * The public API of the bitnet engine: everything a JVM application needs to run, measure and
 * compress BitNet b1.58 ternary models, and what the {@code bitnet} command itself uses.
 *
 * <ul>
 *   <li>{@link bitnet.api.BitnetModel}: a loaded model (a HuggingFace directory, or a compress
 *       output whose packed ternary weights run in place) that owns its mapped files, its compute
 *       backend and that backend's threads until {@link bitnet.api.BitnetModel#close()}; tokenize,
 *       detokenize, logits, perplexity, generation with a per-token callback, fine-tuning.
 *   <li>{@link bitnet.api.TextTokenizer}: a {@code tokenizer.json} on its own.
 *   <li>{@link bitnet.api.Compressor}: compression with an immutable
 *       {@link bitnet.api.CompressSettings} (a builder; the JSON config file and the command-line
 *       flags map onto it), a {@link bitnet.api.ProgressListener}, cancellation by interrupting
 *       the calling thread, and a typed {@link bitnet.api.CompressResult}.
 * </ul>
 *
 * <p>Rules the whole package keeps: no {@code System.exit}; no global mutable state (two models
 * or two compressions in one JVM do not share settings); no use of the common
 * {@code ForkJoinPool} by the API's own work (compression runs in a pool it creates and shuts
 * down); every thread it starts is a named daemon thread ({@code bitnet-...}) that ends when the
 * model is closed or the compression returns. Bad input (a missing file, a malformed checkpoint)
 * is reported as {@link bitnet.io.BadInputException} naming the file; nonsense settings as
 * {@link java.lang.IllegalArgumentException}.
 *
 * <p>Thread safety is stated per type: settings, results and listeners' events are immutable;
 * a {@link bitnet.api.BitnetModel} is used by one thread at a time; {@link bitnet.api.Compressor}
 * and {@link bitnet.api.TextTokenizer} may be used from any number of threads.
 */
package bitnet.api;
