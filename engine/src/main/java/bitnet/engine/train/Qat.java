package bitnet.engine.train;

import bitnet.engine.model.HfTensor;
import bitnet.engine.model.Model;
import bitnet.engine.model.Param;
import java.util.ArrayList;
import java.util.List;

/**
 * Quantization-aware training with the straight-through estimator: before each forward the
 * target weights are fake-quantized from their FP32 latents into a separate buffer that the
 * forward (and the input gradient) use; the weight gradient flows unchanged to the latent.
 * Targets: 2-D linear weights (not embeddings, positions or the head).
 */
public final class Qat {
    private final Model model;
    private final FakeQuant quant;
    private final List<HfTensor> targets = new ArrayList<>();

    public Qat(Model model, FakeQuant quant) {
        this.model = model;
        this.quant = quant;
        for (HfTensor t : model.tensors().values()) {
            if (isTarget(t) || quant.alsoQuantizes(t)) {
                targets.add(t);
            }
        }
    }

    /** True for the tensors QAT and compression quantize: 2-D linear weights. */
    public static boolean isTarget(HfTensor t) {
        return t.shape().length == 2 && t.parts().get(0).kind == Param.Kind.LINEAR;
    }

    public List<HfTensor> targets() {
        return targets;
    }

    /** Refreshes every target's quantized weight from its latent. */
    public void quantize() {
        var k = model.k;
        // the quantizers are pure Java and independent per tensor: run them in parallel, then
        // hand the results to the backend from this thread (backends need not be thread-safe)
        float[][] latents = new float[targets.size()][];
        for (int i = 0; i < targets.size(); i++) {
            latents[i] = model.getHf(targets.get(i));
        }
        float[][] quantized = new float[targets.size()][];
        java.util.stream.IntStream.range(0, targets.size()).parallel().forEach(i -> {
            HfTensor t = targets.get(i);
            quantized[i] = quant.apply(t.name(), latents[i], t.storedRows(), t.storedCols());
        });
        for (int ti = 0; ti < targets.size(); ti++) {
            HfTensor t = targets.get(ti);
            float[][] parts = t.scatter(quantized[ti]);
            for (int i = 0; i < parts.length; i++) {
                Param p = t.parts().get(i);
                var tmp = k.upload(parts[i], (int) p.size());
                if (p.quantized == null) {
                    p.quantized = tmp;
                } else {
                    k.copy(p.quantized, 0, tmp, 0, p.size());
                    tmp.close();
                }
                p.weight = k.weight(p.quantized, p.rows, p.cols);
            }
        }
    }

    /** Lets the quantizer update its own trainable state (e.g. learned scales) from the last backward. */
    public void update(float lr) {
        quant.update(model, targets, lr);
    }

    /** Points the forward back at the latent weights and frees the quantized copies. */
    public void release() {
        var k = model.k;
        for (HfTensor t : targets) {
            for (Param p : t.parts()) {
                p.weight = k.weight(p.value, p.rows, p.cols);
                if (p.quantized != null) {
                    p.quantized.close();
                    p.quantized = null;
                }
            }
        }
    }
}
