package bitnet.engine.model;

import bitnet.io.Checkpoint;
import bitnet.io.ModelConfig;
import bitnet.kernels.Kernels;

/** Builds the model class for a config and loads a checkpoint into it. */
public final class Models {
    private Models() {}

    public static Model create(ModelConfig cfg, Kernels k) {
        return switch (cfg.family()) {
            case GPT2 -> new Gpt2Model(cfg, k);
            case LLAMA, QWEN3 -> new LlamaModel(cfg, k);
            case PHI3 -> new Phi3Model(cfg, k);
            case GEMMA3 -> new Gemma3Model(cfg, k);
            case GPT_NEOX -> new GptNeoxModel(cfg, k);
        };
    }

    public static Model load(Checkpoint ckpt, Kernels k, Model.Mode mode) {
        Model m = create(ckpt.config(), k);
        m.load(ckpt, mode);
        return m;
    }
}
