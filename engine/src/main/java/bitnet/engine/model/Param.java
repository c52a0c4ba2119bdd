package bitnet.engine.model;

import bitnet.kernels.Buf;
import bitnet.kernels.Kernels;
import bitnet.kernels.Weight;

/**
 * One internal parameter of a model, in the layout the kernels want (linear weights as
 * (out, in)). It may differ from the HuggingFace layout (GPT-2's Conv1D is (in, out) and its
 * fused c_attn is split into q, k, v); {@link HfTensor} maps between the two.
 *
 * <p>{@code value} is the FP32 latent parameter (null for weights read in place); {@code weight}
 * is what the forward pass multiplies by: the latent weight, a stored weight read in place,
 * a packed ternary weight, or, under quantization-aware training, the quantized copy.
 */
public final class Param {
    public enum Kind {
        EMBEDDING,
        POSITION,
        HEAD,
        LINEAR,
        NORM,
        BIAS
    }

    public final String name;
    public final Kind kind;
    public final int rows;
    public final int cols;
    /** FP32 latent values (rows * cols), or null when the weight is read in place. */
    public Buf value;
    /** Gradient (same size as value), allocated on first use. */
    public Buf grad;
    /** The matrix used by the forward pass (linear, embedding and head weights only). */
    public Weight weight;
    /** A buffer holding the quantized weight under QAT (the forward uses it), else null. */
    public Buf quantized;

    public Param(String name, Kind kind, int rows, int cols) {
        this.name = name;
        this.kind = kind;
        this.rows = rows;
        this.cols = cols;
    }

    public long size() {
        return (long) rows * cols;
    }

    public boolean isMatrix() {
        return kind == Kind.LINEAR || kind == Kind.EMBEDDING || kind == Kind.HEAD || kind == Kind.POSITION;
    }

    /** The gradient buffer, allocated (zeroed) on first call. */
    public Buf grad(Kernels k) {
        if (grad == null) {
            grad = k.alloc(size());
        }
        return grad;
    }

    @Override
    public String toString() {
        return name + "(" + rows + "x" + cols + ")";
    }
}
