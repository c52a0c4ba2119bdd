package bitnet.api;

/**
 * One tensor under its HuggingFace name and shape (e.g. {@code model.layers.0.mlp.up_proj.weight},
 * {@code [1536, 576]}), its values FP32 and row-major in the checkpoint's own layout. Used for
 * parameters and gradients. The record holds the arrays it is given (no copy): treat them as
 * read-only; safe to share between threads once built.
 *
 * @param name the checkpoint's tensor name
 * @param shape the checkpoint's shape
 * @param values the values, row-major; their count is the product of the shape
 */
public record NamedTensor(String name, long[] shape, float[] values) {
    /** Checks that the values fill the shape. */
    public NamedTensor {
        long n = 1;
        for (long d : shape) {
            n = Math.multiplyExact(n, d);
        }
        if (n != values.length) {
            throw new IllegalArgumentException(name + ": " + values.length + " values for a shape of " + n);
        }
    }
}
