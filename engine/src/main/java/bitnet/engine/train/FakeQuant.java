package bitnet.engine.train;

/**
 * Quantize-then-dequantize of one weight tensor in its HuggingFace layout (rows = dim 0 as
 * stored): what quantization-aware training puts in the forward pass.
 */
@FunctionalInterface
public interface FakeQuant {
    float[] apply(String tensorName, float[] w, int rows, int cols);
}
