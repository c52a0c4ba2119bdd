package bitnet.engine.train;

/**
 * Grokfast gradient filter settings (Lee et al. 2024), applied between backward and the
 * optimizer step. EMA: mu starts at the first gradient, mu = alpha*mu + (1-alpha)*g,
 * g += lambda*mu. MA: the mean of the last window gradients, g += lambda*mean, applied once the
 * window is full (the paper's warmup=True behaviour).
 */
public record Grokfast(Type type, float alpha, int window, float lambda) {
    public enum Type {
        OFF,
        EMA,
        MA
    }

    public static final Grokfast OFF = new Grokfast(Type.OFF, 0, 0, 0);

    /** Parses off | ema[:ALPHA:LAMBDA] | ma[:WINDOW:LAMBDA] (defaults: ema 0.98/2.0, ma 100/5.0). */
    public static Grokfast parse(String s) {
        String[] p = s.trim().toLowerCase().split(":");
        try {
            switch (p[0]) {
                case "off", "none" -> {
                    return OFF;
                }
                case "ema" -> {
                    float a = p.length > 1 ? Float.parseFloat(p[1]) : 0.98f;
                    float l = p.length > 2 ? Float.parseFloat(p[2]) : 2.0f;
                    if (!(a >= 0 && a < 1)) {
                        throw new IllegalArgumentException("grokfast ema alpha must be in [0, 1): " + s);
                    }
                    return new Grokfast(Type.EMA, a, 0, l);
                }
                case "ma" -> {
                    int w = p.length > 1 ? Integer.parseInt(p[1]) : 100;
                    float l = p.length > 2 ? Float.parseFloat(p[2]) : 5.0f;
                    if (w < 1) {
                        throw new IllegalArgumentException("grokfast ma window must be >= 1: " + s);
                    }
                    return new Grokfast(Type.MA, 0, w, l);
                }
                default ->
                    throw new IllegalArgumentException(
                            "unknown --grokfast '" + s + "' (off, ema:ALPHA:LAMBDA, ma:WINDOW:LAMBDA)");
            }
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("bad number in --grokfast '" + s + "'");
        }
    }

    @Override
    public String toString() {
        return switch (type) {
            case OFF -> "off";
            case EMA -> "ema:" + alpha + ":" + lambda;
            case MA -> "ma:" + window + ":" + lambda;
        };
    }
}
