package bitnet.engine.quant;

/**
 * A ternary weight as a quantizer returns it: q (-1/0/+1 per element, row-major as the source) and
 * scale, one per row when perRow (so rows = scale.length), else a single one. Plain data; the
 * packed form is bitnet.io.packed's business.
 */
public record QuantResult(byte[] q, float[] scale, boolean perRow) {
    public QuantResult {
        if (perRow ? scale.length == 0 || q.length % scale.length != 0 : scale.length != 1) {
            throw new IllegalArgumentException(q.length + " codes with " + scale.length + " scales, perRow=" + perRow);
        }
    }

    /** The FP32 weight the model computes with: scale * q. */
    public float[] dequantize() {
        float[] w = new float[q.length];
        int cols = perRow ? q.length / scale.length : q.length;
        for (int i = 0; i < q.length; i++) {
            w[i] = scale[perRow ? i / cols : 0] * q[i];
        }
        return w;
    }

    /** Fraction of zero codes. */
    public double sparsity() {
        long z = 0;
        for (byte b : q) {
            if (b == 0) {
                z++;
            }
        }
        return q.length == 0 ? 0 : (double) z / q.length;
    }
}
