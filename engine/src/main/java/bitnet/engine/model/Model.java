package bitnet.engine.model;

import bitnet.io.BadInputException;
import bitnet.io.Checkpoint;
import bitnet.io.ModelConfig;
import bitnet.io.TensorData;
import bitnet.kernels.Buf;
import bitnet.kernels.Kernels;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A causal transformer LM over a {@link Kernels} backend: parameters, activations sized for the
 * last (B, T), forward to logits, the mean next-token loss, and backward into parameter
 * gradients. Subclasses hold one architecture's per-layer list of kernel calls and its mirror.
 * Model code never names a backend.
 */
public abstract class Model implements AutoCloseable {

    /** How weights are held: read in place from the file (inference) or as FP32 latents (training). */
    public enum Mode {
        INFER,
        TRAIN
    }

    public final ModelConfig cfg;
    public final Kernels k;
    protected final List<Param> params = new ArrayList<>();
    protected final Map<String, HfTensor> tensors = new LinkedHashMap<>();
    /** Per-position losses of the last loss() call, (N). */
    protected Buf losses;

    protected Model(ModelConfig cfg, Kernels k) {
        this.cfg = cfg;
        this.k = k;
    }

    // ---- construction ----------------------------------------------------------------------

    protected Param param(String name, Param.Kind kind, int rows, int cols) {
        Param p = new Param(name, kind, rows, cols);
        params.add(p);
        return p;
    }

    /** Registers a HF tensor mapped one to one onto p. */
    protected Param hf(String name, Param.Kind kind, long[] shape, int rows, int cols) {
        Param p = param(name, kind, rows, cols);
        tensors.put(name, new HfTensor(name, shape, HfTensor.Layout.IDENTITY, List.of(p), true));
        return p;
    }

    protected void hfMapped(String name, long[] shape, HfTensor.Layout layout, List<Param> parts) {
        tensors.put(name, new HfTensor(name, shape, layout, parts, true));
    }

    /**
     * Registers a HF tensor split by rows into parts of the given row counts (rows listed in
     * rowMap, one array per part); each part is a new internal parameter named name#suffix.
     */
    protected Param[] hfRows(String name, Param.Kind kind, long[] shape, String[] suffixes, int[][] rowMap) {
        int cols = shape.length == 1 ? 1 : (int) shape[1];
        Param[] ps = new Param[suffixes.length];
        for (int i = 0; i < ps.length; i++) {
            ps[i] = shape.length == 1
                    ? param(name + "#" + suffixes[i], kind, 1, rowMap[i].length)
                    : param(name + "#" + suffixes[i], kind, rowMap[i].length, cols);
        }
        tensors.put(name, new HfTensor(name, shape, HfTensor.Layout.ROWS, List.of(ps), true, rowMap));
        return ps;
    }

    /** Row indices start, start+1, .., start+n-1. */
    protected static int[] range(int start, int n) {
        int[] r = new int[n];
        for (int i = 0; i < n; i++) {
            r[i] = start + i;
        }
        return r;
    }

    /** Loads values from a checkpoint. INFER keeps identity-mapped matrices in place (no copy). */
    public void load(Checkpoint ckpt, Mode mode) {
        for (HfTensor t : tensors.values()) {
            TensorData td = find(ckpt, t.name());
            long[] s = td.shape();
            if (!java.util.Arrays.equals(s, t.shape())) {
                throw new BadInputException(
                        ckpt.dir(),
                        "tensor '" + t.name() + "' has shape " + java.util.Arrays.toString(s) + ", config says "
                                + java.util.Arrays.toString(t.shape()));
            }
            if (!td.dtype().isFloat()) {
                throw new BadInputException(
                        ckpt.dir(), "tensor '" + t.name() + "' is " + td.dtype() + ", not a float type");
            }
            Param p0 = t.parts().get(0);
            boolean inPlace = mode == Mode.INFER && p0.isMatrix() && td.dtype() != bitnet.io.DType.F64;
            if (inPlace && t.layout() == HfTensor.Layout.IDENTITY) {
                p0.weight = k.weight(td);
                p0.value = null;
            } else if (inPlace && t.layout() == HfTensor.Layout.ROWS && contiguousParts(t)) {
                // fused projections stored as row blocks (Phi-3): each part reads its rows in place
                long rowBytes = (long) t.storedCols() * td.dtype().size();
                for (int i = 0; i < t.parts().size(); i++) {
                    Param p = t.parts().get(i);
                    var slice = td.data().asSlice(t.contiguousStart(i) * rowBytes, p.rows * rowBytes);
                    p.weight = k.weight(new TensorData(t.name(), td.dtype(), new long[] {p.rows, p.cols}, slice));
                    p.value = null;
                }
            } else {
                setHf(t, td.toFloatArray());
            }
        }
    }

    private static boolean contiguousParts(HfTensor t) {
        for (int i = 0; i < t.parts().size(); i++) {
            if (t.contiguousStart(i) < 0) {
                return false;
            }
        }
        return true;
    }

    private TensorData find(Checkpoint ckpt, String name) {
        if (ckpt.has(name)) {
            return ckpt.get(name);
        }
        // Some GPT-2 checkpoints were saved from the base model, without the "transformer." prefix.
        if (name.startsWith("transformer.") && ckpt.has(name.substring("transformer.".length()))) {
            return ckpt.get(name.substring("transformer.".length()));
        }
        throw new BadInputException(ckpt.dir(), "missing tensor '" + name + "' needed by " + cfg.modelType());
    }

    /** Sets a HF tensor's values (HF layout, FP32) into the internal FP32 latents. */
    public void setHf(HfTensor t, float[] hf) {
        float[][] parts = t.scatter(hf);
        for (int i = 0; i < parts.length; i++) {
            Param p = t.parts().get(i);
            if (p.value != null && p.value.size() == p.size()) {
                Buf tmp = k.upload(parts[i], (int) p.size());
                k.copy(p.value, 0, tmp, 0, p.size());
                tmp.close();
            } else {
                p.value = k.upload(parts[i], (int) p.size());
            }
            if (p.isMatrix()) {
                p.weight = k.weight(p.value, p.rows, p.cols);
            }
        }
    }

    /** HF layout values of a tensor (FP32 copy). In-place weights are read through their Weight. */
    public float[] getHf(HfTensor t) {
        Param p0 = t.parts().get(0);
        if (p0.value == null && p0.weight != null) {
            float[] out = new float[Math.toIntExact(t.numel())];
            for (int r = 0; r < p0.rows; r++) {
                for (int c = 0; c < p0.cols; c++) {
                    out[r * p0.cols + c] = p0.weight.get(r, c);
                }
            }
            return out;
        }
        return t.gather(k, p -> p.value);
    }

    /** HF layout gradient of a tensor. */
    public float[] gradHf(HfTensor t) {
        return t.gather(k, p -> p.grad);
    }

    public Map<String, HfTensor> tensors() {
        return Collections.unmodifiableMap(tensors);
    }

    public List<Param> params() {
        return Collections.unmodifiableList(params);
    }

    public long parameterCount() {
        long n = 0;
        for (HfTensor t : tensors.values()) {
            n += t.numel();
        }
        return n;
    }

    public void zeroGrad() {
        for (Param p : params) {
            if (p.grad != null) {
                k.zero(p.grad);
            }
        }
    }

    // ---- activations: owned here, sized for the last (B, T); a family declares its own in allocate() ----

    /** Batch, time and rows (B*T) of the current activations. */
    protected int B = -1, T = -1, N;

    private boolean keepsAtt;
    /**
     * The activations are one set shared by every layer, and the residual stream two buffers used
     * in turn: what a forward that no backward follows needs (the loss without gradients: `ppl`,
     * evaluation). Keeping every layer's activations there cost a 0.54 G-parameter Llama 2.2 GB of
     * heap for 8 windows of 256 tokens, first touched page by page and copied by young collections:
     * half of a `ppl` run's wall time on a Zen 5.
     */
    private boolean sharedActs;

    private final List<Buf> actBufs = new ArrayList<>();
    private final List<Buf> gradBufs = new ArrayList<>();
    private int gradN = -1;
    private Buf zeroRow;
    /** The residual stream, L+1 x (N, C): x[0] the embeddings, x[l+1] the output of layer l. */
    protected Buf[] x;
    /** (N, C) the final norm's output. */
    protected Buf xf;
    /** (N, V) what forward returns; allocated on the first forward, never by the loss (which works in chunks). */
    private Buf logits;
    /**
     * With a KV cache, a step that makes the sequence longer than this recomputes it from the start
     * (Phi-3's longrope switches every position to its long factors there, as HF's generate does); 0: never.
     */
    protected int restartAt;

    /** Allocates the family's activations for (B, T) with {@link #act} and {@link #acts}. */
    protected abstract void allocate(boolean keepAtt);

    /** Allocates the family's gradient scratch for N rows with {@link #scratch}. */
    protected abstract void allocateGrads();

    /** The family's flat forward: x[0] .. x[L], xf; pos0 = positions already cached. The head is Model's. */
    protected abstract void forwardPass(int[] ids, int pos0, KvCache cache);

    /** The mirror of forwardPass (no cache) from dxf (N, C), the gradient of xf; accumulates into parameter grads. */
    protected abstract void backwardPass(int[] ids, Buf dxf);

    /** The LM head (V, C): logits = xf · headᵀ (the token embedding when tied). */
    protected abstract Param head();

    /** Final-logit soft-capping (Gemma): logits = cap · tanh(raw / cap); 0: none. */
    protected float logitSoftcap() {
        return 0;
    }

    /** Floats per position of one layer's cached keys (and values). */
    protected abstract int kvDim();

    /** One activation of n floats for the current (B, T). */
    protected Buf act(long n) {
        Buf b = k.alloc(n);
        actBufs.add(b);
        return b;
    }

    /** One activation of n floats per layer (one buffer for every layer when only inference runs). */
    protected Buf[] acts(long n) {
        Buf[] b = new Buf[cfg.numLayers()];
        for (int l = 0; l < b.length; l++) {
            b[l] = sharedActs && l > 0 ? b[0] : act(n);
        }
        return b;
    }

    /** Per layer the attention state backward needs (nulls when only inference runs). */
    protected Buf[] attStates(int NH, boolean keep) {
        return keep ? acts(k.attentionStateSize(B, NH, T)) : new Buf[cfg.numLayers()];
    }

    /** Gradient scratch of n floats, sized for the current N. */
    protected Buf scratch(long n) {
        Buf b = k.alloc(n);
        gradBufs.add(b);
        return b;
    }

    /**
     * Activations for (b, t): per layer, or with shared one set for all layers ({@link #sharedActs};
     * only for a forward that no backward and no per-layer read follows). Per-layer activations
     * serve either kind of call, so a model that trains keeps them.
     */
    private void ensureActs(int b, int t, boolean keepAtt, boolean shared) {
        if (b == B && t == T && (keepsAtt || !keepAtt) && (shared || !sharedActs)) {
            return;
        }
        closeAll(actBufs);
        B = b;
        T = t;
        N = b * t;
        keepsAtt = keepAtt;
        sharedActs = shared;
        long nc = (long) N * cfg.hiddenSize();
        x = new Buf[cfg.numLayers() + 1];
        for (int l = 0; l < x.length; l++) {
            // layer l reads x[l] and writes x[l+1]: two buffers in turn suffice
            x[l] = shared && l > 1 ? x[l - 2] : act(nc);
        }
        xf = act(nc);
        logits = null;
        allocate(keepAtt);
    }

    /** Floats held by the current activations (tests: the shared layout must hold fewer). */
    long activationFloats() {
        long n = 0;
        for (Buf b : actBufs) {
            n += b.size();
        }
        return n;
    }

    private static void closeAll(List<Buf> bufs) {
        for (Buf b : bufs) {
            b.close();
        }
        bufs.clear();
    }

    // ---- compute ---------------------------------------------------------------------------

    /**
     * Forward over ids (B, T). With a cache (B must be 1), the tokens continue the cached
     * sequence and their keys/values are appended. Returns logits (B*T, V).
     */
    public final Buf forward(int[] ids, int b, int t, KvCache cache) {
        checkBatch(ids, b, t, cache);
        int pos0 = cache == null ? 0 : cache.length;
        if (cache != null && restartAt > 0 && pos0 > 0 && pos0 <= restartAt && pos0 + t > restartAt) {
            return restart(ids, t, cache);
        }
        ensureActs(b, t, cache == null, false);
        forwardPass(ids, pos0, cache);
        headRow0 = -1;
        if (logits == null) {
            logits = act((long) N * cfg.vocabSize());
        }
        k.matmul(logits, xf, head().weight, null, N, cfg.hiddenSize(), cfg.vocabSize());
        if (logitSoftcap() > 0) {
            k.softcap(logits, logits, (long) N * cfg.vocabSize(), logitSoftcap());
        }
        if (cache != null) {
            System.arraycopy(ids, 0, cache.ids, pos0, t);
            cache.length += t;
        }
        return logits;
    }

    private void checkBatch(int[] ids, int b, int t, KvCache cache) {
        checkIds(ids);
        if (ids.length != b * t) {
            throw new IllegalArgumentException(ids.length + " ids for a batch of " + b + " x " + t);
        }
        int pos0 = cache == null ? 0 : cache.length;
        if (pos0 + t > cfg.maxPositions()) {
            throw new IllegalArgumentException("sequence of " + (pos0 + t) + " exceeds the model's "
                    + cfg.maxPositions() + " positions (max_position_embeddings)");
        }
        if (cache != null && b != 1) {
            throw new IllegalArgumentException("the KV cache holds one sequence");
        }
    }

    /** Recomputes the cached sequence and ids; the logits of ids end up in the first t rows. */
    private Buf restart(int[] ids, int t, KvCache cache) {
        int pos0 = cache.length;
        int[] all = java.util.Arrays.copyOf(cache.ids, pos0 + t);
        System.arraycopy(ids, 0, all, pos0, t);
        cache.length = 0;
        Buf lg = forward(all, 1, pos0 + t, cache);
        int V = cfg.vocabSize();
        Buf tmp = k.alloc((long) t * V);
        k.copy(tmp, 0, lg, (long) pos0 * V, (long) t * V);
        k.copy(lg, 0, tmp, 0, (long) t * V);
        tmp.close();
        return lg;
    }

    /**
     * Layer l's attention inputs of the last forward, for attention-relation distillation (MiniLM):
     * q (B*T, NH, HS) and k (B*T, NKV, HS) after RoPE (and after Qwen3 / Gemma 3's q/k norms), v
     * (B*T, NKV, HS). Views of the activations, no copy: valid until the next forward. Gemma 3's q
     * is pre-multiplied by sqrt(HS / query_pre_attn_scalar), so q·k / sqrt(HS) is its attention score
     * in every family. Query head h reads KV head h / (NH / NKV).
     */
    public record Attention(Buf q, Buf k, Buf v, int NH, int NKV, int HS) {}

    public abstract Attention attention(int l);

    /** HF's hidden_states[i] of the last forward: 0 embeddings, i the residual after layer i-1, L the final norm output. */
    public Buf hidden(int i) {
        return i == cfg.numLayers() ? xf : x[i];
    }

    /** A KV cache for generation up to maxLen positions (batch 1). */
    public KvCache newCache(int maxLen) {
        int m = Math.min(maxLen, cfg.maxPositions());
        int layers = cfg.numLayers();
        Buf[] ks = new Buf[layers], vs = new Buf[layers];
        for (int l = 0; l < layers; l++) {
            ks[l] = k.alloc((long) m * kvDim());
            vs[l] = k.alloc((long) m * kvDim());
        }
        return new KvCache(ks, vs, m);
    }

    /**
     * Causal attention of layer l: over q, kk, vv of this call, or, with a cache, over the cached
     * keys and values after appending kk and vv (B = 1). window 0: full.
     */
    protected void attend(
            int l,
            Buf out,
            Buf att,
            Buf q,
            Buf kk,
            Buf vv,
            KvCache cache,
            int pos0,
            int NH,
            int NKV,
            int HS,
            int window) {
        if (cache == null) {
            k.attention(out, att, q, kk, vv, B, T, T, NH, NKV, HS, window);
            return;
        }
        long kvd = (long) NKV * HS;
        k.copy(cache.keys[l], pos0 * kvd, kk, 0, T * kvd);
        k.copy(cache.values[l], pos0 * kvd, vv, 0, T * kvd);
        k.attention(out, null, q, cache.keys[l], cache.values[l], 1, T, pos0 + T, NH, NKV, HS, window);
    }

    /**
     * Embedding backward from dx (N, C), which it may clobber: rows whose id is padId (the
     * Embedding's padding_idx; null for none) send no gradient, as in torch.
     */
    protected void embeddingBackward(Param wte, Param wpe, Buf dx, int[] ids, Integer padId) {
        int C = cfg.hiddenSize();
        if (padId != null) {
            for (int i = 0; i < N; i++) {
                if (ids[i] == padId) {
                    if (zeroRow == null) {
                        zeroRow = k.alloc(C);
                    }
                    k.copy(dx, (long) i * C, zeroRow, 0, C);
                }
            }
        }
        k.embeddingBackward(g(wte), wpe == null ? null : g(wpe), dx, ids, B, T, C);
    }

    /** The value buffer of an optional parameter (biases). */
    protected static Buf b(Param p) {
        return p == null ? null : p.value;
    }

    /** The gradient buffer of an optional parameter, allocated on first use. */
    protected Buf g(Param p) {
        return p == null ? null : p.grad(k);
    }

    // ---- the head in chunks of rows: a loss never holds the (N, V) logits at once ----------

    /**
     * Floats of logits (and of their gradient, in place) one chunk holds: 16M (64 MB), e.g. 341
     * rows of a 49,152-token vocabulary, where the (16 x 256, V) logits of a batch are 805 MB.
     */
    private static final long CHUNK_FLOATS = 1L << 24;
    /** Smallest chunk: under a few rows the backend's matmul takes another path (a chunk's numerics then differ). */
    private static final int MIN_CHUNK_ROWS = 64;

    private Buf dxf; // (N, C) gradient of xf, rows written by headBackward
    private boolean dxfWritten;
    private Buf xfc,
            dxfc,
            rawc,
            chunkLogits; // (rows, C), (rows, C), (rows, V) raw logits (soft-capped heads), (rows, V)
    private int chunkRows, rawRows, logitRows;
    private int headRow0 = -1, headN; // rows of the last headLogits

    /** Rows per chunk of logits for n rows: at most CHUNK_FLOATS floats, at least MIN_CHUNK_ROWS rows, at most n. */
    public int headChunkRows(int n) {
        // bitnet.lossChunkFloats: for tests, to make chunks of the tiny fixtures
        long rows = Math.max(MIN_CHUNK_ROWS, Long.getLong("bitnet.lossChunkFloats", CHUNK_FLOATS) / cfg.vocabSize());
        return (int) Math.max(1, Math.min(n, rows));
    }

    /** A (rows, V) buffer for chunks of logits, owned by the model (reused across calls). */
    private Buf chunkLogits(int rows) {
        if (logitRows < rows) {
            close(chunkLogits);
            chunkLogits = k.alloc((long) rows * cfg.vocabSize());
            logitRows = rows;
        }
        return chunkLogits;
    }

    /**
     * The forward of the last layers up to xf over ids (B, T) without a cache, for a loss that
     * then takes the logits chunk by chunk ({@link #headLogits}, {@link #headBackward}, {@link #backwardHidden}).
     */
    public final void forwardHidden(int[] ids, int b, int t) {
        forwardHidden(ids, b, t, true);
    }

    /** {@link #forwardHidden}; without backward, one set of activations serves every layer and nothing is kept for backward. */
    private void forwardHidden(int[] ids, int b, int t, boolean backward) {
        checkBatch(ids, b, t, null);
        ensureActs(b, t, backward, !backward);
        forwardPass(ids, 0, null);
        dxfWritten = false;
        headRow0 = -1;
    }

    /** out (n, V) = the logits of rows [row0, row0+n) of the last {@link #forwardHidden}. */
    public final void headLogits(Buf out, int row0, int n) {
        int C = cfg.hiddenSize(), V = cfg.vocabSize();
        Buf in = rowsOfXf(row0, n);
        float cap = logitSoftcap();
        if (cap > 0) { // keep the raw logits of this chunk for headBackward
            if (rawRows < n) {
                close(rawc);
                rawc = k.alloc((long) n * V);
                rawRows = n;
            }
            k.matmul(rawc, in, head().weight, null, n, C, V);
            k.softcap(out, rawc, (long) n * V, cap);
        } else {
            k.matmul(out, in, head().weight, null, n, C, V);
        }
        headRow0 = row0;
        headN = n;
    }

    /**
     * Backward of the head for rows [row0, row0+n) from dlogits (n, V), right after their
     * {@link #headLogits} (dlogits may be that buffer, and is clobbered): accumulates the head's
     * gradient and writes those rows of dxf.
     */
    public final void headBackward(Buf dlogits, int row0, int n) {
        if (row0 != headRow0 || n != headN) {
            throw new IllegalStateException(
                    "headBackward of rows " + row0 + "+" + n + " after headLogits of " + headRow0 + "+" + headN);
        }
        int C = cfg.hiddenSize(), V = cfg.vocabSize();
        if (logitSoftcap() > 0) {
            k.softcapBackward(dlogits, dlogits, rawc, (long) n * V, logitSoftcap());
        }
        MicroBatches.backwardStarted(); // gradients accumulate from here: no retry with smaller micro-batches
        ensureGrads();
        if (!dxfWritten) {
            k.zero(dxf);
            dxfWritten = true;
        }
        if (n == N) {
            k.matmulBackward(dxf, g(head()), null, dlogits, xf, head().weight, N, C, V);
            return;
        }
        Buf in = rowsOfXf(row0, n); // xfc still holds these rows: no copy
        k.zero(dxfc);
        k.matmulBackward(dxfc, g(head()), null, dlogits, in, head().weight, n, C, V);
        k.copy(dxf, (long) row0 * C, dxfc, 0, (long) n * C);
    }

    /** The backward of the layers from the dxf that {@link #headBackward} wrote; accumulates into grads. */
    public final void backwardHidden(int[] ids) {
        ensureGrads();
        if (!dxfWritten) {
            k.zero(dxf);
        }
        backwardPass(ids, dxf);
    }

    /** xf itself when the rows are all of it, else a copy of them in xfc (n, C). */
    private Buf rowsOfXf(int row0, int n) {
        if (row0 == 0 && n == N) {
            return xf;
        }
        int C = cfg.hiddenSize();
        if (chunkRows < n) {
            close(xfc);
            close(dxfc);
            xfc = k.alloc((long) n * C);
            dxfc = k.alloc((long) n * C);
            chunkRows = n;
        }
        if (row0 != headRow0 || n != headN) {
            k.copy(xfc, 0, xf, (long) row0 * C, (long) n * C);
        }
        return xfc;
    }

    private void ensureGrads() {
        if (gradN != N) {
            closeAll(gradBufs);
            dxf = scratch((long) N * cfg.hiddenSize());
            allocateGrads();
            gradN = N;
        }
    }

    private static void close(Buf b) {
        if (b != null) {
            b.close();
        }
    }

    /**
     * Mean cross-entropy of predicting targets (B*T, -1 = ignore) from inputs (B*T); with grad,
     * also backward into the parameter gradients (accumulating). A batch whose activations and
     * logits do not fit the free heap runs as micro-batches of whole rows ({@link MicroBatches}):
     * every row's gradient is scaled by 1 / (targets of the whole batch), so the accumulated
     * gradients and the mean are the full batch's (up to float summation order).
     */
    public double loss(int[] inputs, int[] targets, int B, int T, boolean grad) {
        int V = cfg.vocabSize();
        int count = 0;
        for (int i = 0; i < B * T; i++) {
            int tg = targets[i];
            if (tg >= V) {
                throw new IllegalArgumentException("target id " + tg + " outside the vocabulary (" + V + ")");
            }
            if (tg >= 0) {
                count++;
            }
        }
        int all = count;
        double sum = MicroBatches.run(
                this,
                B,
                T,
                grad,
                (b0, nb) -> nb == B
                        ? lossSum(inputs, targets, B, T, grad, all)
                        : lossSum(
                                java.util.Arrays.copyOfRange(inputs, b0 * T, (b0 + nb) * T),
                                java.util.Arrays.copyOfRange(targets, b0 * T, (b0 + nb) * T),
                                nb,
                                T,
                                grad,
                                all));
        return count == 0 ? 0 : sum / count;
    }

    /** A loss over sequences [b0, b0+nb) of a batch: returns its sum over rows. */
    public interface Rows {
        double run(int b0, int nb);
    }

    /**
     * Runs rows over micro-batches of whole sequences whose activations fit the free heap
     * ({@link MicroBatches}; logged when split); returns the sum of its results. rows must scale
     * each gradient by the whole batch's counts.
     */
    public double microBatches(int B, int T, boolean grad, Rows rows) {
        return MicroBatches.run(this, B, T, grad, rows::run);
    }

    /** Sum of the cross-entropy over rows (B, T), gradients scaled by 1/count (count: targets of the whole batch). */
    private double lossSum(int[] inputs, int[] targets, int B, int T, boolean grad, int count) {
        forwardHidden(inputs, B, T, grad);
        int V = cfg.vocabSize(), rows = headChunkRows(N);
        if (losses == null || losses.size() < rows) {
            if (losses != null) {
                losses.close();
            }
            losses = k.alloc(rows);
        }
        Buf lc = chunkLogits(rows); // (rows, V)
        float[] l = new float[rows];
        double sum = 0;
        for (int r0 = 0; r0 < N; r0 += rows) {
            int n = Math.min(rows, N - r0);
            headLogits(lc, r0, n);
            int[] tg = n == N ? targets : java.util.Arrays.copyOfRange(targets, r0, r0 + n);
            k.crossEntropy(losses, grad ? lc : null, lc, tg, n, V, count == 0 ? 0f : 1f / count);
            k.download(losses, l, n);
            for (int i = 0; i < n; i++) {
                sum += l[i];
            }
            if (grad) {
                headBackward(lc, r0, n);
            }
        }
        if (grad) {
            backwardHidden(inputs);
        }
        return sum;
    }

    // ---- distillation hook (bitnet.engine.train.Distiller) ---------------------------------

    /** Post-RoPE q (N, NH*HS), k and v (N, NKV*HS) of layer l, as the last forward left them ({@link #attention}). */
    public Buf[] qkv(int l) {
        Attention a = attention(l);
        return new Buf[] {a.q(), a.k(), a.v()};
    }

    /**
     * The attention backward of layer l (every family calls this, not the kernel): after the
     * kernel, the distillation gradients of q, k, v ({@link #qkvGrad}) are added, so they flow on
     * through RoPE, the q/k norms and the projections like the loss's own.
     */
    protected void attentionBackward(
            int l,
            Buf dq,
            Buf dk,
            Buf dv,
            Buf datt,
            Buf att,
            Buf q,
            Buf kk,
            Buf vv,
            int B,
            int T,
            int NH,
            int NKV,
            int HS) {
        k.attentionBackward(dq, dk, dv, datt, att, q, kk, vv, B, T, NH, NKV, HS);
        if (qkvGrad != null && qkvGrad[l] != null) {
            long n = (long) B * T * HS;
            k.add(dq, dq, qkvGrad[l][0], n * NH);
            k.add(dk, dk, qkvGrad[l][1], n * NKV);
            k.add(dv, dv, qkvGrad[l][2], n * NKV);
        }
    }

    /** Per layer, {dq, dk, dv} shaped as {@link #qkv} that backward adds to that layer's (null: none). */
    public Buf[][] qkvGrad;

    /** HF's shifted labels: targets[b,t] = ids[b,t+1], and -1 at the last position of each row. */
    public static int[] shiftedTargets(int[] ids, int B, int T) {
        int[] tg = new int[B * T];
        for (int b = 0; b < B; b++) {
            for (int t = 0; t < T; t++) {
                tg[b * T + t] = t + 1 < T ? ids[b * T + t + 1] : -1;
            }
        }
        return tg;
    }

    protected void checkIds(int[] ids) {
        for (int id : ids) {
            if (id < 0 || id >= cfg.vocabSize()) {
                throw new IllegalArgumentException(
                        "token id " + id + " outside the vocabulary (0.." + (cfg.vocabSize() - 1) + ")");
            }
        }
    }

    @Override
    public void close() {
        closeAll(actBufs);
        closeAll(gradBufs);
        for (Buf b : new Buf[] {zeroRow, xfc, dxfc, rawc, chunkLogits, losses}) {
            close(b);
        }
        for (Param p : params) {
            if (p.value != null) {
                p.value.close();
            }
            if (p.grad != null) {
                p.grad.close();
            }
            if (p.quantized != null) {
                p.quantized.close();
            }
        }
    }
}
