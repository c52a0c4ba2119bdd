package bitnet.kernels;

import bitnet.io.Packing;
import bitnet.io.TensorData;
import bitnet.kernels.cpu.Int8Weight;
import bitnet.kernels.ternary.TernaryWeight;
import java.lang.foreign.MemorySegment;

/**
 * The compute backend: forward/backward pairs in the llm.c style. Argument order is fixed:
 * outputs (and caches) first, then inputs, then sizes. Backward kernels accumulate parameter
 * gradients ({@code +=}) and, unless stated otherwise, also accumulate into dinp ({@code +=}), so
 * residual branches can share a gradient buffer. All compute is FP32.
 *
 * <p>Dimension names: B batch, T time, C channels, OC output channels, N = B*T rows, NH query heads,
 * NKV key/value heads, HS head size, V vocabulary. Activations are row-major (N, C).
 *
 * <p>Kernels know nothing of models: no layer names, no configs.
 */
public interface Kernels extends AutoCloseable {

    /** A short name for logs ("scalar", "vector", "cuda"). */
    String name();

    // ---- memory ----------------------------------------------------------------------------

    /** A zeroed buffer of n floats. */
    Buf alloc(long n);

    /** A buffer holding a copy of host (host may be longer than needed: n elements are copied). */
    Buf upload(float[] host, int n);

    default Buf upload(float[] host) {
        return upload(host, host.length);
    }

    /** Copies the first n elements of buf into host. */
    void download(Buf buf, float[] host, int n);

    default float[] download(Buf buf) {
        float[] h = new float[Math.toIntExact(buf.size())];
        download(buf, h, h.length);
        return h;
    }

    /** dst[dstOff .. dstOff+n) = src[srcOff .. srcOff+n). */
    void copy(Buf dst, long dstOff, Buf src, long srcOff, long n);

    /** buf[0..n) = 0. */
    void zero(Buf buf);

    /** A trainable FP32 weight (rows, cols) that lives in buf (no copy). */
    Weight weight(Buf buf, int rows, int cols);

    /** A weight read in place from stored bytes (F32, F16 or BF16), shape (rows, cols). */
    Weight weight(TensorData stored);

    /** The FP32 buffer behind a weight made by {@link #weight(Buf, int, int)}; null otherwise. */
    Buf bufOf(Weight w);

    /**
     * A packed ternary weight (rows, cols) for inference, its codes read in place (e.g. a slice of a
     * mapped packed model file): W[r][c] = scales[r or 0] * q with q in {-1, 0, +1}. The engine makes
     * packed weights only through this factory, never naming a backend's class. The default is the
     * CPU table-lookup / add-subtract kernel weight.
     */
    default Weight ternaryWeight(Packing packing, MemorySegment packed, float[] scales, int rows, int cols) {
        return new TernaryWeight(packing, packed, scales, rows, cols);
    }

    /**
     * A per-row int8 weight (rows, cols) for inference: W[r][c] = scales[r] * q[r][c], q read in place;
     * null when this backend cannot hold it (then the caller widens it to FP32).
     */
    default Weight int8Weight(MemorySegment q, float[] scales, int rows, int cols) {
        return (long) rows * cols <= Int8Weight.MAX_BYTES ? new Int8Weight(q, scales, rows, cols) : null;
    }

    /**
     * An int4 weight (rows, cols) in llama.cpp's Q4_0 values for inference: code q (cols/2 bytes a
     * row, element 2i in the low nibble of byte i) stands for (q - 8) * d of its block of 32, d the
     * F16 bits in scale16; held as int8 (q - 8) with a scale per block, a quarter of FP32's bytes.
     * null when this backend cannot hold it (then the caller widens it to FP32).
     */
    default Weight int4Weight(byte[] codes, short[] scale16, int rows, int cols) {
        if ((long) rows * cols > Int8Weight.MAX_BYTES || cols % 32 != 0 || !Int8Weight.supportsGroup(32)) {
            return null;
        }
        byte[] q = new byte[rows * cols];
        for (int i = 0; i < q.length; i++) {
            q[i] = (byte) (((codes[i >> 1] >> ((i & 1) * 4)) & 15) - 8);
        }
        float[] d = new float[scale16.length];
        for (int i = 0; i < d.length; i++) {
            d[i] = Float.float16ToFloat(scale16[i]);
        }
        return new Int8Weight(MemorySegment.ofArray(q), d, rows, cols, 32);
    }

    // ---- embeddings ------------------------------------------------------------------------

    /** out (N, C) = wte[ids[n]] (+ wpe[pos0 + n % T] if wpe != null). ids has N = B*T entries. */
    void embedding(Buf out, int[] ids, Weight wte, Weight wpe, int B, int T, int C, int pos0);

    /** dwte (V, C) += scatter of dout by ids; dwpe (maxT, C) += sum over batch (if dwpe != null). */
    void embeddingBackward(Buf dwte, Buf dwpe, Buf dout, int[] ids, int B, int T, int C);

    // ---- linear layers ---------------------------------------------------------------------

    /** out (N, OC) = inp (N, C) · wᵀ + bias (OC, may be null); w is (OC, C). Overwrites out. */
    void matmul(Buf out, Buf inp, Weight w, Buf bias, int N, int C, int OC);

    /**
     * dinp (N, C) += dout · w (if dinp != null); dweight (OC, C) += doutᵀ · inp (if dweight != null);
     * dbias (OC) += Σₙ dout (if dbias != null).
     */
    void matmulBackward(Buf dinp, Buf dweight, Buf dbias, Buf dout, Buf inp, Weight w, int N, int C, int OC);

    // ---- norms -----------------------------------------------------------------------------

    /** LayerNorm over C: out = (x - mean) * rstd * w + b; caches mean (N) and rstd (N). */
    void layernorm(Buf out, Buf mean, Buf rstd, Buf inp, Buf w, Buf b, int N, int C, float eps);

    void layernormBackward(Buf dinp, Buf dw, Buf db, Buf dout, Buf inp, Buf w, Buf mean, Buf rstd, int N, int C);

    /** RMSNorm over C, HF's order: out = w * (x * rstd) with rstd = 1/sqrt(mean(x²) + eps); caches rstd (N). */
    void rmsnorm(Buf out, Buf rstd, Buf inp, Buf w, int N, int C, float eps);

    void rmsnormBackward(Buf dinp, Buf dw, Buf dout, Buf inp, Buf w, Buf rstd, int N, int C);

    // ---- attention -------------------------------------------------------------------------

    /**
     * Rotary embedding in place on x (B, T, NH, HS), HF's rotate_half convention: for i < HS/2,
     * (x[i], x[i+HS/2]) rotated by angle (pos0 + t) * invFreq[i]. cos and sin are tables
     * (maxT, HS/2) precomputed by the caller in double and rounded to float.
     */
    void rope(Buf x, Buf cos, Buf sin, int B, int T, int NH, int HS, int pos0);

    /** The transpose of {@link #rope}: rotates dx in place by the negative angle. */
    void ropeBackward(Buf dx, Buf cos, Buf sin, int B, int T, int NH, int HS, int pos0);

    /**
     * Partial rotary embedding (Phi-3, GPT-NeoX): {@link #rope} on the first RD dims of each head
     * (pairs i, i + RD/2 for i < RD/2); dims RD..HS pass through. Tables are (maxT, RD/2).
     * Backends without it throw UnsupportedOperationException for RD < HS.
     */
    default void rope(Buf x, Buf cos, Buf sin, int B, int T, int NH, int HS, int RD, int pos0) {
        if (RD != HS) {
            throw new UnsupportedOperationException(name() + " backend: partial rotary embedding");
        }
        rope(x, cos, sin, B, T, NH, HS, pos0);
    }

    /** The transpose of the partial {@link #rope(Buf, Buf, Buf, int, int, int, int, int, int)}. */
    default void ropeBackward(Buf dx, Buf cos, Buf sin, int B, int T, int NH, int HS, int RD, int pos0) {
        if (RD != HS) {
            throw new UnsupportedOperationException(name() + " backend: partial rotary embedding");
        }
        ropeBackward(dx, cos, sin, B, T, NH, HS, pos0);
    }

    /**
     * Causal scaled-dot-product attention with grouped KV heads (query head h reads KV head
     * h / (NH/NKV)). q (B, T, NH, HS); k, v (B, TK, NKV, HS) where the query at t sits at absolute
     * position TK - T + t (TK = T without a cache); out (B, T, NH, HS); att ({@link
     * #attentionStateSize} floats) keeps what backward needs (may be null at inference). window > 0 limits each query to
     * the last window keys (Mistral's sliding window); 0 means unlimited.
     */
    void attention(Buf out, Buf att, Buf q, Buf k, Buf v, int B, int T, int TK, int NH, int NKV, int HS, int window);

    /**
     * Floats of the att buffer that {@link #attention} fills for {@link #attentionBackward}, for
     * (B, NH, T) with TK = T. Its content is the backend's business: by default the (B, NH, T, T)
     * probabilities; the vector CPU backend keeps 3 floats per query row (the softmax's max, its
     * 1/sum and the window start) and recomputes each head's probabilities in backward, so no more
     * than one (T, T) block per head and thread exists at a time.
     */
    default long attentionStateSize(int B, int NH, int T) {
        return (long) B * NH * T * T;
    }

    /** Gradients of {@link #attention} (TK = T): dq, dk, dv accumulate (+=). */
    void attentionBackward(
            Buf dq, Buf dk, Buf dv, Buf dout, Buf att, Buf q, Buf k, Buf v, int B, int T, int NH, int NKV, int HS);

    // ---- elementwise ------------------------------------------------------------------------

    /** out = a + b over n elements (out may alias a). */
    void add(Buf out, Buf a, Buf b, long n);

    /** GPT-2's gelu_new (tanh approximation). */
    void gelu(Buf out, Buf inp, long n);

    /** dinp += dout * gelu'(inp). */
    void geluBackward(Buf dinp, Buf dout, Buf inp, long n);

    /** Exact GELU, x * Φ(x) = 0.5 x (1 + erf(x / √2)) (GPT-NeoX's "gelu"). CPU backends only. */
    default void geluErf(Buf out, Buf inp, long n) {
        throw new UnsupportedOperationException(name() + " backend: exact-erf GELU");
    }

    /** dinp += dout * Φ'(inp)-based derivative of {@link #geluErf}. */
    default void geluErfBackward(Buf dinp, Buf dout, Buf inp, long n) {
        throw new UnsupportedOperationException(name() + " backend: exact-erf GELU");
    }

    /** out = gelu_tanh(gate) * up (Gemma's GeGLU; the tanh GELU of {@link #gelu}). CPU backends only. */
    default void geglu(Buf out, Buf gate, Buf up, long n) {
        throw new UnsupportedOperationException(name() + " backend: GeGLU");
    }

    /** dgate += dout * up * gelu'(gate); dup += dout * gelu(gate). */
    default void gegluBackward(Buf dgate, Buf dup, Buf dout, Buf gate, Buf up, long n) {
        throw new UnsupportedOperationException(name() + " backend: GeGLU");
    }

    /** Soft-capping, out = cap * tanh(inp / cap) (out may alias inp). CPU backends only. */
    default void softcap(Buf out, Buf inp, long n, float cap) {
        throw new UnsupportedOperationException(name() + " backend: soft-capping");
    }

    /** dinp = dout * (1 - tanh²(inp / cap)): overwrites, and dinp may alias dout. */
    default void softcapBackward(Buf dinp, Buf dout, Buf inp, long n, float cap) {
        throw new UnsupportedOperationException(name() + " backend: soft-capping");
    }

    /** out = silu(gate) * up (SwiGLU). */
    void swiglu(Buf out, Buf gate, Buf up, long n);

    /** dgate += dout * up * silu'(gate); dup += dout * silu(gate). */
    void swigluBackward(Buf dgate, Buf dup, Buf dout, Buf gate, Buf up, long n);

    // ---- loss ------------------------------------------------------------------------------

    /**
     * Row-wise softmax cross-entropy. logits (N, V). For each row n with targets[n] >= 0:
     * losses[n] = logsumexp - logit[target]; if dlogits != null, dlogits (N, V) = (softmax - onehot) * dscale
     * (overwritten; rows with target < 0 get zeros). losses (N) is overwritten (0 for ignored rows).
     * dlogits may alias logits.
     */
    void crossEntropy(Buf losses, Buf dlogits, Buf logits, int[] targets, int N, int V, float dscale);

    // ---- optimizer -------------------------------------------------------------------------

    /**
     * One AdamW step with PyTorch's semantics on n parameters: p -= lr*wd*p; m = b1 m + (1-b1) g;
     * v = b2 v + (1-b2) g²; p -= (lr / bc1) * m / (sqrt(v) / sqrt(bc2) + eps), where
     * bc1 = 1 - b1^step and bc2 = 1 - b2^step (step counts from 1).
     */
    void adamw(Buf p, Buf m, Buf v, Buf g, long n, float lr, float b1, float b2, float eps, float wd, int step);

    /** Grokfast EMA: mu = alpha*mu + (1-alpha)*g, then g += lambda*mu (init: the caller copies g into mu first). */
    void grokfastEma(Buf g, Buf mu, long n, float alpha, float lambda);

    /** out = Σ x² over n elements, accumulated in double. */
    double sumSquares(Buf x, long n);

    /** x *= s over n elements. */
    void scale(Buf x, long n, float s);

    /** y += a * x over n elements. */
    void axpy(Buf y, Buf x, long n, float a);

    @Override
    default void close() {}
}
