package bitnet.api;

import bitnet.engine.train.FakeQuants;
import bitnet.engine.train.Grokfast;

/**
 * Settings of {@link BitnetModel#trainSteps}: AdamW at a constant learning rate, no clipping, no
 * warmup, optionally with Grokfast gradient filtering and quantization-aware training (the
 * forward pass sees quantized weights, the straight-through estimator updates the latent FP32
 * ones). Immutable; safe to share between threads.
 *
 * @param lr the learning rate (&gt; 0)
 * @param weightDecay AdamW's decoupled weight decay
 * @param beta1 AdamW's first-moment decay
 * @param beta2 AdamW's second-moment decay
 * @param eps AdamW's epsilon
 * @param grokfast {@code off}, {@code ema:ALPHA:LAMBDA} or {@code ma:WINDOW:LAMBDA} (held in canonical
 *     form, defaults filled in)
 * @param qat {@code off}, or a quantizer spec ({@code twn}, {@code absmean}, {@code seed:TAU})
 */
public record StepSettings(
        double lr, double weightDecay, double beta1, double beta2, double eps, String grokfast, String qat) {
    /**
     * Checks the values.
     *
     * @throws IllegalArgumentException for a non-positive lr or an unknown Grokfast or QAT spec
     */
    public StepSettings {
        if (!(lr > 0)) {
            throw new IllegalArgumentException("lr must be > 0, not " + lr);
        }
        grokfast = Grokfast.parse(grokfast).toString(); // canonical: "ema" reads back as "ema:0.98:2.0"
        FakeQuants.of(qat);
    }

    /**
     * The {@code train-steps} command's defaults: lr 1e-3, weight decay 0.01, betas 0.9 / 0.999,
     * eps 1e-8, no Grokfast, no QAT.
     *
     * @return the settings
     */
    public static StepSettings defaults() {
        return new StepSettings(1e-3, 0.01, 0.9, 0.999, 1e-8, "off", "off");
    }
}
