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
    public enum Mode { INFER, TRAIN }

    public final ModelConfig cfg;
    public final Kernels k;
    protected final List<Param> params = new ArrayList<>();
    protected final Map<String, HfTensor> tensors = new LinkedHashMap<>();
    protected int curB = -1, curT = -1, curTK = -1;
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

    /** Loads values from a checkpoint. INFER keeps identity-mapped matrices in place (no copy). */
    public void load(Checkpoint ckpt, Mode mode) {
        for (HfTensor t : tensors.values()) {
            TensorData td = find(ckpt, t.name());
            long[] s = td.shape();
            if (!java.util.Arrays.equals(s, t.shape())) {
                throw new BadInputException(ckpt.dir(), "tensor '" + t.name() + "' has shape "
                        + java.util.Arrays.toString(s) + ", config says " + java.util.Arrays.toString(t.shape()));
            }
            if (!td.dtype().isFloat()) {
                throw new BadInputException(ckpt.dir(), "tensor '" + t.name() + "' is " + td.dtype() + ", not a float type");
            }
            Param p0 = t.parts().get(0);
            if (mode == Mode.INFER && t.layout() == HfTensor.Layout.IDENTITY && p0.isMatrix()
                    && td.dtype() != bitnet.io.DType.F64) {
                p0.weight = k.weight(td);
                p0.value = null;
            } else {
                setHf(t, td.toFloatArray());
            }
        }
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

    // ---- compute ---------------------------------------------------------------------------

    /**
     * Forward over ids (B, T). With a cache (B must be 1), the tokens continue the cached
     * sequence and their keys/values are appended. Returns logits (B*T, V).
     */
    public abstract Buf forward(int[] ids, int B, int T, KvCache cache);

    /** Backward of the last forward (no cache), from dlogits (B*T, V); accumulates into grads. */
    protected abstract void backward(int[] ids, Buf dlogits);

    /** HF's hidden_states[i] of the last forward: 0 embeddings, i the residual after layer i-1, L the final norm output. */
    public abstract Buf hidden(int i);

    /** A KV cache for generation up to maxT positions (batch 1). */
    public abstract KvCache newCache(int maxT);

    /** A cache of `layers` key and value buffers of (min(maxLen, maxPositions), kvDim) each. */
    protected KvCache newCache(int layers, int kvDim, int maxLen) {
        int m = Math.min(maxLen, cfg.maxPositions());
        Buf[] ks = new Buf[layers], vs = new Buf[layers];
        for (int l = 0; l < layers; l++) {
            ks[l] = k.alloc((long) m * kvDim);
            vs[l] = k.alloc((long) m * kvDim);
        }
        return new KvCache(ks, vs, m);
    }

    /** One buffer of n floats per layer. */
    protected Buf[] perLayer(int layers, long n) {
        Buf[] b = new Buf[layers];
        for (int l = 0; l < layers; l++) {
            b[l] = k.alloc(n);
        }
        return b;
    }

    /**
     * Mean cross-entropy of predicting targets (B*T, -1 = ignore) from inputs (B*T); with grad,
     * also backward into the parameter gradients (accumulating).
     */
    public double loss(int[] inputs, int[] targets, int B, int T, boolean grad) {
        int N = B * T;
        int V = cfg.vocabSize();
        Buf logits = forward(inputs, B, T, null);
        int count = 0;
        for (int i = 0; i < N; i++) {
            int tg = targets[i];
            if (tg >= V) {
                throw new IllegalArgumentException("target id " + tg + " outside the vocabulary (" + V + ")");
            }
            if (tg >= 0) {
                count++;
            }
        }
        if (losses == null || losses.size() < N) {
            if (losses != null) {
                losses.close();
            }
            losses = k.alloc(N);
        }
        k.crossEntropy(losses, grad ? logits : null, logits, targets, N, V, count == 0 ? 0f : 1f / count);
        float[] l = new float[N];
        k.download(losses, l, N);
        double sum = 0;
        for (int i = 0; i < N; i++) {
            sum += l[i];
        }
        if (grad) {
            backward(inputs, logits);
        }
        return count == 0 ? 0 : sum / count;
    }

    // ---- distillation hook (bitnet.engine.train.Distiller) ---------------------------------

    /** Post-RoPE q (N, NH*HS), k and v (N, NKV*HS) of layer l, as the last forward left them. */
    public abstract Buf[] qkv(int l);

    /** Per layer, {dq, dk, dv} shaped as {@link #qkv} that backward adds to that layer's (null: none). */
    public Buf[][] qkvGrad;

    /** Forward, then lossGrad turns the logits (N, V) into their gradient in place and returns the loss, then backward. */
    public double customLoss(int[] inputs, int B, int T, java.util.function.ToDoubleFunction<Buf> lossGrad) {
        Buf logits = forward(inputs, B, T, null);
        double loss = lossGrad.applyAsDouble(logits);
        backward(inputs, logits);
        return loss;
    }

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
                throw new IllegalArgumentException("token id " + id + " outside the vocabulary (0.." + (cfg.vocabSize() - 1) + ")");
            }
        }
    }

    /** RoPE tables (maxT, HS/2) computed in FP32 the way HF does (inv_freq, position * inv_freq, cos/sin). */
    protected static float[][] ropeTables(ModelConfig cfg, int maxT) {
        int hs = cfg.headDim();
        int half = hs / 2;
        float[] inv = new float[half];
        if (cfg.rope().type().equals("default")) {
            for (int i = 0; i < half; i++) {
                float expo = (float) (2 * i) / hs;
                inv[i] = 1.0f / (float) Math.pow((float) cfg.rope().theta(), expo);
            }
        } else {
            double[] d = cfg.rope().invFreq(hs);
            for (int i = 0; i < half; i++) {
                inv[i] = (float) d[i];
            }
        }
        // HF keeps inv_freq as a module buffer, so casting a model to bf16/f16 rounds it too; a
        // model stored in half precision was run by HF with the rounded frequencies.
        String dt = cfg.dtype() == null ? "" : cfg.dtype();
        for (int i = 0; i < half; i++) {
            if (dt.equals("bfloat16")) {
                inv[i] = bitnet.io.DType.bf16ToFloat(bitnet.io.DType.floatToBf16(inv[i]));
            } else if (dt.equals("float16")) {
                inv[i] = Float.float16ToFloat(Float.floatToFloat16(inv[i]));
            }
        }
        float[] cos = new float[maxT * half];
        float[] sin = new float[maxT * half];
        for (int t = 0; t < maxT; t++) {
            for (int i = 0; i < half; i++) {
                float f = (float) t * inv[i];
                cos[t * half + i] = (float) Math.cos(f);
                sin[t * half + i] = (float) Math.sin(f);
            }
        }
        return new float[][] {cos, sin};
    }

    @Override
    public void close() {
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
