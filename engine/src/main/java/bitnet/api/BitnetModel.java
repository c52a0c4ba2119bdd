package bitnet.api;

import bitnet.engine.compress.PackedLoader;
import bitnet.engine.eval.Generator;
import bitnet.engine.eval.Perplexity;
import bitnet.engine.model.Model;
import bitnet.engine.model.Models;
import bitnet.io.BadInputException;
import bitnet.io.Checkpoint;
import bitnet.io.tokenizer.Tokenizer;
import bitnet.kernels.Backends;
import bitnet.kernels.Kernels;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CancellationException;

/**
 * A loaded causal language model: a HuggingFace directory (safetensors, sharded or not, or
 * {@code pytorch_model.bin}; GPT-2, Llama, Mistral, Qwen2), or a {@code bitnet compress} output
 * directory, whose packed ternary weights then run in place (no dequantized copy) and whose int8
 * embeddings stay int8.
 *
 * <p>The model owns what it maps and starts: the weight files are memory-mapped into an arena that
 * {@link #close()} releases, and the compute backend (its CPU worker threads, named
 * {@code bitnet-cpu-N}, daemon; or its GPU memory) ends with it. Use it in try-with-resources; after
 * close every method fails.
 *
 * <p>Not thread-safe: one thread at a time (the backend's buffers are reused between calls). Load
 * one model per thread to run in parallel. {@link #tokenizer()} is safe from any thread.
 */
public final class BitnetModel implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Path dir;
    private final Path hfDir;
    private final Arena arena;
    private final Kernels k;
    private final Model m;
    private final boolean packed;
    private final boolean trainable;
    private TextTokenizer tokenizer;
    private boolean closed;

    private BitnetModel(Path dir, Path hfDir, Arena arena, Kernels k, Model m, boolean packed, boolean trainable) {
        this.dir = dir;
        this.hfDir = hfDir;
        this.arena = arena;
        this.k = k;
        this.m = m;
        this.packed = packed;
        this.trainable = trainable;
    }

    /**
     * Loads a model with the default options (device auto, all cores, inference).
     *
     * @param dir a HuggingFace model directory or a compress output directory
     * @return the model; close it
     * @throws BadInputException when the directory or a file in it is missing or malformed
     */
    public static BitnetModel load(Path dir) {
        return load(dir, ModelOptions.defaults());
    }

    /**
     * Loads a model.
     *
     * @param dir a HuggingFace model directory or a compress output directory
     * @param options device, threads, and whether to train
     * @return the model; close it
     * @throws BadInputException when the directory or a file in it is missing or malformed
     * @throws OutOfMemoryException when the model does not fit in the heap
     */
    public static BitnetModel load(Path dir, ModelOptions options) {
        Path hf = hfDir(dir);
        Kernels k = Backends.log(Backends.select(options.device(), options.threads()));
        Arena arena = Arena.ofShared();
        try {
            boolean packed = !options.trainable() && PackedLoader.isCompressOutput(dir);
            Model m;
            if (packed) {
                m = PackedLoader.load(dir, k, arena);
            } else {
                Checkpoint ck = Checkpoint.open(hf, arena);
                // a NaN/Inf weight is bad input naming the file, for every use (as compress does)
                bitnet.engine.compress.NonFinite.check(ck, false, "");
                m = Models.load(ck, k, options.trainable() ? Model.Mode.TRAIN : Model.Mode.INFER);
            }
            return new BitnetModel(dir, hf, arena, k, m, packed, options.trainable());
        } catch (RuntimeException | Error e) {
            arena.close();
            k.close();
            if (e instanceof OutOfMemoryError oom) {
                throw new OutOfMemoryException("loading " + dir, oom);
            }
            throw e;
        }
    }

    /**
     * The HuggingFace directory a model directory reads: a compress output points at its
     * dequantized FP16 model.
     *
     * @param dir a model or compress output directory
     * @return the directory holding config.json and the tokenizer
     */
    public static Path hfDir(Path dir) {
        if (!Files.isDirectory(dir)) {
            throw new BadInputException(dir, "model directory not found");
        }
        Path fp16 = dir.resolve(PackedLoader.FP16_DIR);
        if (!Files.exists(dir.resolve("config.json")) && Files.isDirectory(fp16)) {
            return fp16;
        }
        return dir;
    }

    private void open() {
        if (closed) {
            throw new IllegalStateException("model " + dir + " is closed");
        }
    }

    /**
     * The directory this model was loaded from.
     *
     * @return the directory given to {@link #load}
     */
    public Path directory() {
        return dir;
    }

    /**
     * The architecture named by config.json.
     *
     * @return e.g. {@code LlamaForCausalLM}
     */
    public String architecture() {
        return m.cfg.architecture();
    }

    /**
     * The vocabulary size V (the last dimension of {@link #logits}).
     *
     * @return V
     */
    public int vocabSize() {
        return m.cfg.vocabSize();
    }

    /**
     * The longest sequence the model takes.
     *
     * @return max positions
     */
    public int maxPositions() {
        return m.cfg.maxPositions();
    }

    /**
     * The number of parameters.
     *
     * @return parameters
     */
    public long parameterCount() {
        return m.parameterCount();
    }

    /**
     * The compute backend in use.
     *
     * @return {@code vector}, {@code scalar} or {@code cuda}
     */
    public String backend() {
        return k.name();
    }

    /**
     * Whether packed ternary weights run in place (a compress output loaded for inference).
     *
     * @return true for a packed model
     */
    public boolean isPacked() {
        return packed;
    }

    /**
     * The model's tokenizer ({@code tokenizer.json} beside config.json).
     *
     * @return the tokenizer
     * @throws BadInputException when the model has none
     */
    public synchronized TextTokenizer tokenizer() {
        if (tokenizer == null) {
            tokenizer = loadTokenizer(dir);
        }
        return tokenizer;
    }

    /**
     * Lets the CPU kernels start compiling before a model is loaded, for a caller with start-up
     * work to overlap (the kernel warm-up; off unless the system property bitnet.warmup is true).
     * Returns at once; does nothing for the CUDA and scalar devices.
     *
     * @param device the device the model will be loaded for (auto, cpu, cuda, scalar)
     */
    public static void prepare(String device) {
        bitnet.kernels.Backends.warmUp(device);
    }

    /**
     * Loads the tokenizer of a model directory without loading the model (the one {@link
     * #tokenizer()} returns): a caller may read it on another thread while the weights load.
     *
     * @param dir a HuggingFace model directory or a compress output directory
     * @return the tokenizer ({@code tokenizer.json} beside config.json)
     * @throws BadInputException when the model has none or it is malformed
     */
    public static TextTokenizer loadTokenizer(Path dir) {
        Path f = hfDir(dir).resolve("tokenizer.json");
        if (!Files.isRegularFile(f)) {
            throw new BadInputException(
                    f, "tokenizer.json not found: text input needs the model's tokenizer (or pass ids)");
        }
        return TextTokenizer.of(Tokenizer.load(f));
    }

    /**
     * Encodes text with the model's tokenizer.
     *
     * @param text any string
     * @return token ids
     */
    public int[] tokenize(String text) {
        return tokenizer().encode(text);
    }

    /**
     * Decodes ids with the model's tokenizer.
     *
     * @param ids token ids
     * @return the text
     */
    public String detokenize(int[] ids) {
        return tokenizer().decode(ids);
    }

    /**
     * The id that ends generation: generation_config.json's {@code eos_token_id}, else config.json's.
     *
     * @return the id, or null when the model declares none
     */
    public Integer eosTokenId() {
        Path g = hfDir.resolve("generation_config.json");
        if (Files.isRegularFile(g)) {
            try {
                JsonNode n = JSON.readTree(Files.readString(g)).get("eos_token_id");
                if (n != null && n.isInt()) {
                    return n.asInt();
                }
                if (n != null && n.isArray() && !n.isEmpty()) {
                    return n.get(0).asInt();
                }
            } catch (IOException e) {
                throw new BadInputException(g, "not valid JSON", e);
            }
        }
        return m.cfg.eosTokenId();
    }

    /**
     * One causal forward pass.
     *
     * @param ids batch x seqLen token ids, row-major
     * @param batch B
     * @param seqLen T
     * @return logits (B, T, V) row-major, FP32
     */
    public float[] logits(int[] ids, int batch, int seqLen) {
        open();
        check(ids, batch, seqLen);
        float[] out = new float[Math.multiplyExact(batch * seqLen, vocabSize())];
        k.download(m.forward(ids, batch, seqLen, null), out, out.length);
        return out;
    }

    /**
     * The mean next-token cross-entropy of each sequence's tokens 1..T-1 given the ones before.
     *
     * @param ids batch x seqLen token ids, row-major
     * @param batch B
     * @param seqLen T
     * @return the mean loss in nats
     */
    public double loss(int[] ids, int batch, int seqLen) {
        open();
        check(ids, batch, seqLen);
        return m.loss(ids, Model.shiftedTargets(ids, batch, seqLen), batch, seqLen, false);
    }

    private void check(int[] ids, int batch, int seqLen) {
        if (batch < 1 || seqLen < 1 || ids.length != batch * seqLen) {
            throw new IllegalArgumentException(ids.length + " ids for batch " + batch + " x " + seqLen);
        }
        for (int id : ids) {
            if (id < 0 || id >= vocabSize()) {
                throw new IllegalArgumentException(
                        "token id " + id + " outside the vocabulary [0, " + vocabSize() + ")");
            }
        }
    }

    /**
     * Perplexity of token ids: non-overlapping windows of seqLen + 1 tokens.
     *
     * @param ids the text's ids
     * @param seqLen predicted tokens per window
     * @param windows at most this many windows
     * @param batch windows per forward pass
     * @return the measurement
     * @throws IllegalArgumentException when fewer than seqLen + 1 ids are given
     */
    public PerplexityResult perplexity(int[] ids, int seqLen, int windows, int batch) {
        open();
        if (seqLen < 1 || windows < 1 || batch < 1) {
            throw new IllegalArgumentException("seqLen, windows and batch must be >= 1");
        }
        Perplexity.Result r = Perplexity.compute(m, ids, seqLen, windows, batch);
        return new PerplexityResult(r.ppl(), r.meanNll(), r.tokens(), r.windows());
    }

    /**
     * Generates tokens after a prompt with a KV cache, stopping after maxNew tokens, at the
     * model's end-of-sequence id (when stopAtEos), or at the model's maximum length.
     *
     * @param prompt at least one token id
     * @param maxNew the most new tokens
     * @param sampling greedy or seeded temperature / top-p sampling
     * @param stopAtEos stop when {@link #eosTokenId()} is generated
     * @param listener called with each new token as it is chosen (may be null)
     * @return the prompt followed by the new tokens
     * @throws CancellationException when the calling thread is interrupted (its interrupt status stays set)
     */
    public int[] generate(int[] prompt, int maxNew, Sampling sampling, boolean stopAtEos, TokenListener listener) {
        open();
        if (maxNew < 0) {
            throw new IllegalArgumentException("maxNew must be >= 0");
        }
        if (prompt.length == 0) {
            throw new IllegalArgumentException("an empty prompt: give at least one token");
        }
        check(prompt, 1, prompt.length);
        var s = sampling.greedy()
                ? Generator.Sampling.GREEDY
                : new Generator.Sampling(false, sampling.temperature(), sampling.topP(), sampling.seed());
        return Generator.generate(m, prompt, maxNew, s, stopAtEos ? eosTokenId() : null, id -> {
            if (Thread.currentThread().isInterrupted()) {
                throw new CancellationException("generation interrupted");
            }
            if (listener != null) {
                listener.onToken(id);
            }
        });
    }

    /**
     * Fine-tunes the weights in memory (the model must be loaded with
     * {@link ModelOptions#trainable()}): random windows of the training ids, held-out perplexity
     * on the evaluation ids before and after. Under QAT the weights the model then holds are the
     * latent FP32 ones; {@link #logits} and {@link #perplexity} see them quantized only during training.
     *
     * @param trainIds training text ids (at least seqLen + 2)
     * @param evalIds held-out ids (at least seqLen + 1)
     * @param settings the recipe
     * @param listener one {@code train} event per step (step, loss, lr, grad_norm, tokens_per_s) and
     *     {@code eval} events (may be null)
     * @return what the run did
     * @throws CancellationException when the calling thread is interrupted (checked after every step; the
     *     thread's interrupt status stays set)
     */
    public FineTuneResult fineTune(
            int[] trainIds, int[] evalIds, FineTuneSettings settings, ProgressListener listener) {
        return fineTune(trainIds, evalIds, settings, null, listener);
    }

    /**
     * Fine-tunes as {@link #fineTune(int[], int[], FineTuneSettings, ProgressListener)} and writes
     * the run and its result into an output directory: metrics, resumable checkpoints, and the
     * fine-tuned model as a HuggingFace directory (see {@link FineTuneOutput}). An interrupted
     * or failed run leaves {@code DIR.partial}, which {@link FineTuneOutput#resume()} continues.
     *
     * @param trainIds training text ids (at least seqLen + 2)
     * @param evalIds held-out ids (at least seqLen + 1)
     * @param settings the recipe
     * @param output where to write; null to keep the result in memory only
     * @param listener {@code train}, {@code eval} and {@code final} events (may be null)
     * @return what the run did
     * @throws BadInputException when the output exists (without overwrite) or overlaps an input
     * @throws CancellationException when the calling thread is interrupted
     */
    public FineTuneResult fineTune(
            int[] trainIds,
            int[] evalIds,
            FineTuneSettings settings,
            FineTuneOutput output,
            ProgressListener listener) {
        trainableModel("fine-tune");
        return Training.fineTune(m, hfDir, trainIds, evalIds, settings, output, listener);
    }

    /**
     * The parameters under their checkpoint names and shapes (the model must be loaded with
     * {@link ModelOptions#trainable()}, or be a HuggingFace directory): after training, the
     * trained values.
     *
     * @return one tensor per checkpoint parameter, in the model's order; fresh copies
     */
    public List<NamedTensor> parameters() {
        open();
        if (packed) {
            throw new IllegalStateException("a packed model has no FP32 parameters: load it with withTrainable(true)");
        }
        return Training.parameters(m);
    }

    /**
     * The mean next-token loss of a batch and its gradient for every parameter (the model must be
     * loaded with {@link ModelOptions#trainable()}). The weights do not change.
     *
     * @param ids batch x seqLen token ids, row-major
     * @param batch B
     * @param seqLen T
     * @return the loss and one gradient per parameter, in the order of {@link #parameters()}
     */
    public Gradients gradients(int[] ids, int batch, int seqLen) {
        trainableModel("compute gradients");
        check(ids, batch, seqLen);
        return Training.gradients(m, ids, batch, seqLen);
    }

    /**
     * Checks that every parameter gets a finite, non-zero gradient of sensible size from one
     * batch (the model must be loaded with {@link ModelOptions#trainable()}): a broken
     * architecture mapping shows here first.
     *
     * @param ids batch x seqLen token ids, row-major
     * @param batch B
     * @param seqLen T
     * @return the verdict with per-parameter norms
     */
    public GradientFlowResult gradientFlow(int[] ids, int batch, int seqLen) {
        trainableModel("check gradient flow");
        check(ids, batch, seqLen);
        return Training.gradientFlow(m, ids, batch, seqLen);
    }

    /**
     * Optimizer steps on one fixed batch (the model must be loaded with
     * {@link ModelOptions#trainable()}): constant learning rate, no clipping; the weights change.
     * For parity checks against a reference trainer and for throughput measurements.
     *
     * @param ids batch x seqLen token ids, row-major
     * @param batch B
     * @param seqLen T
     * @param steps optimizer steps (at least 1)
     * @param settings the optimizer
     * @return the loss before each step (steps values)
     */
    public float[] trainSteps(int[] ids, int batch, int seqLen, int steps, StepSettings settings) {
        return trainSteps(ids, batch, seqLen, steps, settings, null);
    }

    /**
     * {@link #trainSteps(int[], int, int, int, StepSettings)}, timing each step: for throughput
     * figures that, like a median over steps, leave out a step the machine or the JIT slowed.
     *
     * @param ids batch x seqLen token ids, row-major
     * @param batch B
     * @param seqLen T
     * @param steps optimizer steps (at least 1)
     * @param settings the optimizer
     * @param stepNanos null, or at least steps values: receives each step's wall time in
     *     nanoseconds (quantization, forward, backward and optimizer step)
     * @return the loss before each step (steps values)
     */
    public float[] trainSteps(int[] ids, int batch, int seqLen, int steps, StepSettings settings, long[] stepNanos) {
        trainableModel("train");
        check(ids, batch, seqLen);
        if (steps < 1) {
            throw new IllegalArgumentException("steps must be >= 1");
        }
        if (stepNanos != null && stepNanos.length < steps) {
            throw new IllegalArgumentException(stepNanos.length + " step times for " + steps + " steps");
        }
        return Training.trainSteps(m, ids, batch, seqLen, steps, settings, stepNanos);
    }

    /**
     * The usual estimate of one training step's FLOPs per token at a sequence length: 3x the
     * forward's, the forward being 2 FLOPs per weight of every matrix product (LM head included)
     * plus causal attention; norms, activations and the optimizer left out.
     *
     * @param seqLen T
     * @return FLOPs per token
     */
    public double trainingFlopsPerToken(int seqLen) {
        open();
        return Training.trainFlopsPerToken(m, seqLen);
    }

    private void trainableModel(String what) {
        open();
        if (!trainable) {
            throw new IllegalStateException("load the model with ModelOptions.withTrainable(true) to " + what);
        }
    }

    /**
     * Releases the mapped files, the backend's threads and device memory. Idempotent.
     */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            m.close();
        } finally {
            try {
                k.close();
            } finally {
                arena.close();
            }
        }
    }
}
