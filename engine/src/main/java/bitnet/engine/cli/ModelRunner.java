package bitnet.engine.cli;

import bitnet.engine.model.Model;
import java.lang.foreign.Arena;

/** Opens a model for inference: an HF directory in place, or a compress output directory. */
final class ModelRunner {
    private ModelRunner() {}

    static Model open(ModelArgs args, Common common, Arena arena) {
        return args.load(common.kernels(), arena, Model.Mode.INFER);
    }
}
