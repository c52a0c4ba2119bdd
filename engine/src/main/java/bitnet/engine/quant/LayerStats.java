package bitnet.engine.quant;

/**
 * Per-layer quantization statistics for reports: mse = mean (w - ŵ)², relError = ||w - ŵ|| / ||w||
 * (0 for an all-zero w), sparsity = fraction of zero codes, and the range of the scales.
 */
public record LayerStats(String name, double mse, double relError, double sparsity, double scaleMin, double scaleMax) {

    public static LayerStats of(String name, float[] w, QuantResult r) {
        float[] d = r.dequantize();
        if (d.length != w.length) {
            throw new IllegalArgumentException(name + ": " + w.length + " weights, " + d.length + " quantized");
        }
        double err = 0, norm = 0;
        for (int i = 0; i < w.length; i++) {
            double e = (double) w[i] - d[i];
            err += e * e;
            norm += (double) w[i] * w[i];
        }
        double min = Double.POSITIVE_INFINITY, max = Double.NEGATIVE_INFINITY;
        for (float s : r.scale()) {
            min = Math.min(min, s);
            max = Math.max(max, s);
        }
        return new LayerStats(
                name,
                w.length == 0 ? 0 : err / w.length,
                norm == 0 ? 0 : Math.sqrt(err / norm),
                r.sparsity(),
                min,
                max);
    }
}
