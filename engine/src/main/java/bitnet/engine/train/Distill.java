package bitnet.engine.train;

import java.util.Arrays;
import java.util.Locale;

/**
 * Distillation settings (BitNet Distillation, arXiv 2510.13998, without its SubLN): the
 * original model is a frozen teacher on the same batch. The student's loss is
 * (1 - alpha) * CE + alpha * T² * KL(teacher || student at temperature T) over the logits, plus,
 * with attention, beta * the MiniLM relation loss: for each chosen layer and each head, the mean
 * over rows of KL(softmax(X_t X_tᵀ / √d) || softmax(X_s X_sᵀ / √d)) for X = post-RoPE q, k and v.
 *
 * @param layers attention layers to distil; negative counts from the end (-1 = the last layer)
 * @param chunk  sequences per teacher pass: the teacher's logits are held for chunk × T positions
 */
public record Distill(Mode mode, float temperature, float alpha, float beta, int[] layers, int chunk) {
    public enum Mode {
        OFF,
        LOGITS,
        LOGITS_ATTENTION
    }

    public static final Distill OFF = new Distill(Mode.OFF, 1f, 0f, 0f, new int[0], 1);

    public boolean on() {
        return mode != Mode.OFF;
    }

    public boolean attention() {
        return mode == Mode.LOGITS_ATTENTION;
    }

    /** off | logits | logits+attention (also "attention"), as in the config's `distill` key. */
    public static Mode parseMode(String s) {
        return switch (s.trim().toLowerCase(Locale.ROOT)) {
            case "off", "none" -> Mode.OFF;
            case "logits" -> Mode.LOGITS;
            case "logits+attention", "attention", "logits+attn" -> Mode.LOGITS_ATTENTION;
            default ->
                throw new IllegalArgumentException("distill must be off, logits or logits+attention, not '" + s + "'");
        };
    }

    /** Comma-separated layer indices ("-1" = last, "0,-1"). */
    public static int[] parseLayers(String s) {
        try {
            return Arrays.stream(s.split(","))
                    .map(String::trim)
                    .filter(x -> !x.isEmpty())
                    .mapToInt(Integer::parseInt)
                    .toArray();
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("distill_layers must be comma-separated integers, not '" + s + "'");
        }
    }

    /** The layer indices resolved against a model of L layers (duplicates removed, sorted). */
    public int[] resolve(int L) {
        return Arrays.stream(layers)
                .map(l -> l < 0 ? L + l : l)
                .filter(l -> l >= 0 && l < L)
                .distinct()
                .sorted()
                .toArray();
    }

    public void validate() {
        if (!(temperature > 0) || !(alpha >= 0 && alpha <= 1) || !(beta >= 0) || chunk < 1) {
            throw new IllegalArgumentException(
                    "distillation needs temperature > 0, 0 <= alpha <= 1, beta >= 0, chunk >= 1");
        }
    }

    @Override
    public String toString() {
        return switch (mode) {
            case OFF -> "off";
            case LOGITS -> String.format(Locale.ROOT, "logits (T %.2g, alpha %.2g)", temperature, alpha);
            case LOGITS_ATTENTION ->
                String.format(
                        Locale.ROOT,
                        "logits+attention (T %.2g, alpha %.2g, beta %.2g, layers %s)",
                        temperature,
                        alpha,
                        beta,
                        Arrays.toString(layers));
        };
    }
}
