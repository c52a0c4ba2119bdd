package bitnet.engine.cli;

import bitnet.engine.util.NonFiniteException;
import bitnet.io.BadInputException;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** The --model option (a model is loaded through {@link bitnet.api.BitnetModel}). */
public class ModelArgs {
    @Option(
            names = "--model",
            required = true,
            description = "HuggingFace model directory (or a compress output directory)")
    public Path model;

    /**
     * A NaN/Inf loss, logit or perplexity from finite weights and a checked config: the model's
     * files are the cause (values overflow FP32), so bad input naming the model (exit 3).
     */
    public BadInputException nonFinite(NonFiniteException e) {
        return new BadInputException(
                model,
                "the model computes a non-finite value: " + e.getMessage()
                        + " (its weights are finite, so their products overflow FP32)",
                e);
    }
}
