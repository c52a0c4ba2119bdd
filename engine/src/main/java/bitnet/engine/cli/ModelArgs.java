package bitnet.engine.cli;

import bitnet.engine.compress.NonFinite;
import bitnet.engine.compress.PackedLoader;
import bitnet.engine.model.Model;
import bitnet.engine.model.Models;
import bitnet.engine.util.NonFiniteException;
import bitnet.io.BadInputException;
import bitnet.io.Checkpoint;
import bitnet.kernels.Kernels;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** The --model option and how a directory becomes a runnable model. */
public class ModelArgs {
    @Option(
            names = "--model",
            required = true,
            description = "HuggingFace model directory (or a compress output directory)")
    public Path model;

    /** Opens the checkpoint (memory-mapped into arena). */
    public Checkpoint checkpoint(Arena arena) {
        return Checkpoint.open(hfDir(), arena);
    }

    /** The HF directory to read: a compress output directory points at its dequantized FP16 model. */
    public Path hfDir() {
        if (!Files.isDirectory(model)) {
            throw new BadInputException(model, "model directory not found");
        }
        Path fp16 = model.resolve(PackedLoader.FP16_DIR);
        if (!Files.exists(model.resolve("config.json")) && Files.isDirectory(fp16)) {
            return fp16;
        }
        return model;
    }

    public Model load(Kernels k, Arena arena, Model.Mode mode) {
        if (mode == Model.Mode.INFER && Files.isDirectory(model) && PackedLoader.isCompressOutput(model)) {
            return PackedLoader.load(model, k, arena);
        }
        Checkpoint ck = checkpoint(arena);
        NonFinite.check(ck, false, ""); // as compress does: a NaN/Inf weight is bad input, for every command
        return Models.load(ck, k, mode);
    }

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
