package bitnet.engine.train;

/**
 * Quantize-then-dequantize of one weight tensor in its HuggingFace layout (rows = dim 0 as
 * stored): what quantization-aware training puts in the forward pass.
 */
@FunctionalInterface
public interface FakeQuant {
    float[] apply(String tensorName, float[] w, int rows, int cols);

    /**
     * Called after each backward (gradients clipped), before the optimizer step, with the
     * weights' learning rate: a quantizer with trainable state of its own (learned scales)
     * updates it here. Stateless rules do nothing.
     */
    default void update(bitnet.engine.model.Model m, java.util.List<bitnet.engine.model.HfTensor> targets, float lr) {}

    /**
     * Whether this fake quantization also covers a tensor that is not a linear weight (int4
     * embeddings and head, fake-quantized to what the packed file will store); Qat then treats it
     * as a target too.
     */
    default boolean alsoQuantizes(bitnet.engine.model.HfTensor t) {
        return false;
    }
}
