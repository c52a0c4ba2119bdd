package bitnet.engine.export;

import bitnet.io.DType;
import bitnet.io.TensorData;

/**
 * A tensor on its way into a GGUF file, in one of the three forms a model directory holds: plain
 * floats (HF weights, norms, biases, F16 embeddings), ternary codes with a scale per row (packed
 * linear layers) or int8 values with a scale per row (embeddings). Shapes are HF's (rows, cols) =
 * (out, in) for a linear weight, (n) for a vector. The transforms the llama.cpp conventions need
 * (row permutations, transposes, norm offsets) keep the form where they can, so ternary and int8
 * weights stay exact; {@link #floats()} is the dequantized fallback.
 */
sealed interface SourceTensor {
    long[] shape();

    /** The stored float dtype (F32 for ternary and int8 forms, which dequantize to FP32). */
    DType dtype();

    /** The values as FP32, row-major (dequantized for ternary and int8). */
    float[] floats();

    /** A copy with rows reordered: row i of the result is row perm[i] of this (1-D: elements). */
    SourceTensor permuteRows(int[] perm);

    default int rows() {
        return Math.toIntExact(shape()[0]);
    }

    default int cols() {
        long[] s = shape();
        long c = 1;
        for (int i = 1; i < s.length; i++) {
            c *= s[i];
        }
        return Math.toIntExact(c);
    }

    /** Plain float values (the HF tensor as stored, or floats computed by a transform). */
    record Plain(long[] shape, DType dtype, TensorData data, float[] values) implements SourceTensor {
        static Plain of(TensorData t) {
            return new Plain(t.shape(), t.dtype(), t, null);
        }

        static Plain ofFloats(long[] shape, float[] v) {
            return new Plain(shape, DType.F32, null, v);
        }

        @Override
        public float[] floats() {
            return values != null ? values.clone() : data.toFloatArray();
        }

        @Override
        public SourceTensor permuteRows(int[] perm) {
            return ofFloats(shape, permute(floats(), perm, cols()));
        }
    }

    /** Ternary codes -1/0/+1 (rows, cols) with one scale per row. */
    record Ternary(long[] shape, byte[] codes, float[] scales) implements SourceTensor {
        @Override
        public DType dtype() {
            return DType.F32;
        }

        @Override
        public float[] floats() {
            int c = cols();
            float[] w = new float[codes.length];
            for (int i = 0; i < w.length; i++) {
                w[i] = scales[i / c] * codes[i];
            }
            return w;
        }

        @Override
        public SourceTensor permuteRows(int[] perm) {
            return new Ternary(shape, permute(codes, perm, cols()), permute(scales, perm, 1));
        }
    }

    /** Int8 values (rows, cols) with one scale per row (value = scale * q). */
    record Int8(long[] shape, byte[] q, float[] scales) implements SourceTensor {
        @Override
        public DType dtype() {
            return DType.F32;
        }

        @Override
        public float[] floats() {
            int c = cols();
            float[] w = new float[q.length];
            for (int i = 0; i < w.length; i++) {
                w[i] = scales[i / c] * q[i];
            }
            return w;
        }

        @Override
        public SourceTensor permuteRows(int[] perm) {
            return new Int8(shape, permute(q, perm, cols()), permute(scales, perm, 1));
        }
    }

    /** Int4 codes (cols/2 bytes a row) with F16 scales per block of 32 (value = d * (q - 8)), llama.cpp's Q4_0 values. */
    record Int4(long[] shape, byte[] codes, short[] scale16) implements SourceTensor {
        @Override
        public DType dtype() {
            return DType.F32;
        }

        @Override
        public float[] floats() {
            return bitnet.io.packed.PackedModelFormat.dequantizeInt4(codes, scale16, rows(), cols());
        }

        @Override
        public SourceTensor permuteRows(int[] perm) {
            int nb = cols() / bitnet.io.packed.PackedModelFormat.INT4_BLOCK;
            short[] s = new short[scale16.length];
            for (int i = 0; i < perm.length; i++) {
                System.arraycopy(scale16, perm[i] * nb, s, i * nb, nb);
            }
            return new Int4(shape, permute(codes, perm, cols() / 2), s);
        }
    }

    static float[] permute(float[] v, int[] perm, int cols) {
        float[] out = new float[v.length];
        for (int i = 0; i < perm.length; i++) {
            System.arraycopy(v, perm[i] * cols, out, i * cols, cols);
        }
        return out;
    }

    static byte[] permute(byte[] v, int[] perm, int cols) {
        byte[] out = new byte[v.length];
        for (int i = 0; i < perm.length; i++) {
            System.arraycopy(v, perm[i] * cols, out, i * cols, cols);
        }
        return out;
    }
}
