package bitnet.engine.util;

/**
 * A loss, logit or perplexity came out NaN or infinite. Never reported as a number: the CLI turns
 * it into exit 3 naming the model when the model's files are the only possible cause (finite
 * weights whose products overflow FP32), else exit 1 (e.g. training diverged).
 */
public final class NonFiniteException extends RuntimeException {
    public NonFiniteException(String message) {
        super(message);
    }

    /** Throws when v is NaN or infinite; what names the quantity ("loss", "perplexity"). */
    public static double check(String what, double v) {
        if (!Double.isFinite(v)) {
            throw new NonFiniteException(what + " is " + v);
        }
        return v;
    }

    /** Throws naming the first NaN/Inf in a[0..n) (e.g. "logits[3] is NaN"). */
    public static void check(String what, float[] a, int n) {
        for (int i = 0; i < n; i++) {
            if (!Float.isFinite(a[i])) {
                throw new NonFiniteException(what + "[" + i + "] is " + a[i]);
            }
        }
    }
}
