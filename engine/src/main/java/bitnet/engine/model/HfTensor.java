package bitnet.engine.model;

import bitnet.kernels.Buf;
import bitnet.kernels.Kernels;
import java.util.List;
import java.util.function.Function;

/**
 * A HuggingFace tensor (name and stored shape) and how it maps onto internal parameters:
 * identity, transposed (GPT-2 Conv1D), or split into equal column blocks that are each transposed
 * (GPT-2's fused c_attn of shape (C, 3C) becomes three (C, C) weights q, k, v). Values and
 * gradients go through the same mapping, so files, gradients and quantization all see the
 * HuggingFace layout.
 */
public record HfTensor(String name, long[] shape, Layout layout, List<Param> parts, boolean trainable) {

    public enum Layout { IDENTITY, TRANSPOSE, SPLIT_TRANSPOSE }

    public long numel() {
        long n = 1;
        for (long d : shape) {
            n *= d;
        }
        return n;
    }

    /** Rows of the stored tensor (dim 0; 1 for a vector). */
    public int storedRows() {
        return shape.length == 1 ? 1 : (int) shape[0];
    }

    public int storedCols() {
        return (int) shape[shape.length - 1];
    }

    /** Internal -> HF layout, for values (which=value) or gradients. */
    public float[] gather(Kernels k, Function<Param, Buf> which) {
        float[] out = new float[Math.toIntExact(numel())];
        switch (layout) {
            case IDENTITY -> {
                Param p = parts.get(0);
                Buf b = which.apply(p);
                if (b != null) {
                    k.download(b, out, out.length);
                }
            }
            case TRANSPOSE, SPLIT_TRANSPOSE -> {
                int in = storedRows();
                int outCols = storedCols();
                int block = outCols / parts.size();
                for (int pi = 0; pi < parts.size(); pi++) {
                    Param p = parts.get(pi);
                    Buf b = which.apply(p);
                    if (b == null) {
                        continue;
                    }
                    float[] internal = new float[Math.toIntExact(p.size())]; // (block, in)
                    k.download(b, internal, internal.length);
                    for (int o = 0; o < block; o++) {
                        for (int i = 0; i < in; i++) {
                            out[i * outCols + pi * block + o] = internal[o * in + i];
                        }
                    }
                }
            }
        }
        return out;
    }

    /** HF layout -> internal: the float arrays to upload, one per part, in internal layout. */
    public float[][] scatter(float[] hf) {
        float[][] res = new float[parts.size()][];
        switch (layout) {
            case IDENTITY -> res[0] = hf;
            case TRANSPOSE, SPLIT_TRANSPOSE -> {
                int in = storedRows();
                int outCols = storedCols();
                int block = outCols / parts.size();
                for (int pi = 0; pi < parts.size(); pi++) {
                    float[] internal = new float[block * in];
                    for (int o = 0; o < block; o++) {
                        for (int i = 0; i < in; i++) {
                            internal[o * in + i] = hf[i * outCols + pi * block + o];
                        }
                    }
                    res[pi] = internal;
                }
            }
        }
        return res;
    }
}
