package bitnet.engine.quant;

import java.util.Locale;
import java.util.function.Function;

/**
 * A rule turning an FP32 weight (rows, cols), row-major as stored (dim 0 = rows: the output feature
 * of nn.Linear, the input feature of GPT-2's Conv1D), into ternary codes and scales. Rules:
 * {@code seed:TAU} (per-row absmean scale, zero below TAU*scale), {@code absmean} (BitNet b1.58,
 * one scale per tensor), {@code twn} (per-row MSE-optimal threshold and scale) and the
 * activation-aware {@link #twnActivationAware}. Quantizers are stateless apart from their settings
 * and safe to share between threads.
 *
 * <p>Choosing which tensors to quantize (not embeddings, not lm_head) is the caller's business.
 */
public interface Quantizer {
    String VALID_SPECS = "seed:TAU (e.g. seed:0.1), absmean, twn";

    /** The spec this quantizer was parsed from (e.g. "seed:0.1"). */
    String name();

    QuantResult quantize(String tensorName, float[] w, int rows, int cols);

    /** Parses a spec; IllegalArgumentException naming the valid specs otherwise. */
    static Quantizer parse(String spec) {
        String s = spec == null ? "" : spec.trim().toLowerCase(Locale.ROOT);
        if (s.equals("absmean")) {
            return Quantizers.ABSMEAN;
        }
        if (s.equals("twn")) {
            return Quantizers.TWN;
        }
        if (s.equals("twn-aw")) {
            throw new IllegalArgumentException("quantizer 'twn-aw' needs calibration statistics: build it with "
                    + "Quantizer.twnActivationAware (valid specs here: " + VALID_SPECS + ")");
        }
        if (s.startsWith("seed:")) {
            float tau;
            try {
                tau = Float.parseFloat(s.substring(5));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(
                        "bad quantizer '" + spec + "': TAU must be a number (valid: " + VALID_SPECS + ")");
            }
            if (!(tau >= 0f) || !Float.isFinite(tau)) {
                throw new IllegalArgumentException(
                        "bad quantizer '" + spec + "': TAU must be finite and >= 0 (valid: " + VALID_SPECS + ")");
            }
            return Quantizers.seed(tau, spec.trim());
        }
        throw new IllegalArgumentException("unknown quantizer '" + spec + "' (valid: " + VALID_SPECS + ")");
    }

    /**
     * TWN weighted by calibration statistics: minimises Σ_j a_j (w_j - s q_j)² per row where a_j is
     * the mean of x² for input column j; columnStats maps a tensor name to its per-column a (length
     * cols), or null for plain {@code twn} (e.g. Conv1D weights, whose columns are output features).
     */
    static Quantizer twnActivationAware(Function<String, float[]> columnStats) {
        return Quantizers.twnAw(columnStats);
    }
}
