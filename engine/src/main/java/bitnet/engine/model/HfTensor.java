package bitnet.engine.model;

import bitnet.kernels.Buf;
import bitnet.kernels.Kernels;
import java.util.List;
import java.util.function.Function;

/**
 * A HuggingFace tensor (name and stored shape) and how it maps onto internal parameters:
 * identity, transposed (GPT-2 Conv1D), split into equal column blocks that are each transposed
 * (GPT-2's fused c_attn of shape (C, 3C) becomes three (C, C) weights q, k, v), or split by rows
 * (ROWS: part i row r is stored row rowMap[i][r]; Phi-3's qkv_proj and gate_up_proj are row
 * blocks, GPT-NeoX's query_key_value interleaves q, k, v per head; vectors count as (n, 1)).
 * Values and gradients go through the same mapping, so files, gradients and quantization all see
 * the HuggingFace layout.
 */
public record HfTensor(String name, long[] shape, Layout layout, List<Param> parts, boolean trainable, int[][] rowMap) {

    public enum Layout {
        IDENTITY,
        TRANSPOSE,
        SPLIT_TRANSPOSE,
        ROWS
    }

    public HfTensor(String name, long[] shape, Layout layout, List<Param> parts, boolean trainable) {
        this(name, shape, layout, parts, trainable, null);
    }

    /** For ROWS: the first stored row of part i when its rows are one contiguous block, else -1. */
    public int contiguousStart(int i) {
        int[] m = rowMap[i];
        for (int r = 1; r < m.length; r++) {
            if (m[r] != m[0] + r) {
                return -1;
            }
        }
        return m[0];
    }

    private int rowWidth() {
        return shape.length == 1 ? 1 : (int) shape[1];
    }

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
            case ROWS -> {
                int w = rowWidth();
                for (int pi = 0; pi < parts.size(); pi++) {
                    Buf b = which.apply(parts.get(pi));
                    if (b == null) {
                        continue;
                    }
                    float[] internal = new float[rowMap[pi].length * w];
                    k.download(b, internal, internal.length);
                    for (int r = 0; r < rowMap[pi].length; r++) {
                        System.arraycopy(internal, r * w, out, rowMap[pi][r] * w, w);
                    }
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
            case ROWS -> {
                int w = rowWidth();
                for (int pi = 0; pi < parts.size(); pi++) {
                    float[] internal = new float[rowMap[pi].length * w];
                    for (int r = 0; r < rowMap[pi].length; r++) {
                        System.arraycopy(hf, rowMap[pi][r] * w, internal, r * w, w);
                    }
                    res[pi] = internal;
                }
            }
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
