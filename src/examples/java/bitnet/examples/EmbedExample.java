package bitnet.examples;

import bitnet.api.BitnetModel;
import bitnet.api.CompressResult;
import bitnet.api.CompressSettings;
import bitnet.api.Compressor;
import bitnet.api.ModelOptions;
import bitnet.api.Sampling;
import java.nio.file.Path;
import java.util.Locale;

/**
 * Embedding the engine in a Java program through its public API only: load the demo model,
 * generate a few tokens with a per-token callback, then compress it with a progress listener
 * (a short fine-tuning budget, so the example runs in the build) and run the compressed model.
 *
 * <p>Usage: {@code EmbedExample MODEL_DIR OUTPUT_DIR}
 */
public final class EmbedExample {
    private EmbedExample() {}

    public static void main(String[] args) throws Exception {
        Path model = Path.of(args.length > 0 ? args[0] : "src/demo/model");
        Path output = Path.of(args.length > 1 ? args[1] : "example-output");

        // 1. load and generate: the model owns its mapped files and threads until closed
        try (BitnetModel m = BitnetModel.load(model, ModelOptions.defaults().withDevice("cpu"))) {
            int[] prompt = m.tokenize("The history of");
            StringBuilder streamed = new StringBuilder();
            int[] out = m.generate(
                    prompt,
                    12,
                    Sampling.greedyDecoding(),
                    true,
                    id -> streamed.append(id).append(' '));
            System.out.println("generated ids: " + streamed.toString().trim());
            System.out.println("text: " + m.detokenize(out));
        }

        // 2. compress with a progress listener (few steps: this runs in every build)
        CompressSettings settings = CompressSettings.builder()
                .model(model)
                .output(output)
                .overwrite(true)
                .calibrationData(model.resolveSibling("heldout.txt").toString())
                .evalData(model.resolveSibling("heldout.txt").toString())
                .evaluation(2, 64)
                .fineTuneSteps(4)
                .set("fine_tune_batch_size", 2)
                .set("fine_tune_sequence_length", 64)
                .targetCompressionRatio(1.0)
                .maxAccuracyDrop(100)
                .device("cpu", 0)
                .build();
        CompressResult r = Compressor.compress(settings, e -> {
            switch (e.kind()) {
                case "stage_done" ->
                    System.out.println("stage done: " + e.fields().get("stage"));
                case "train" ->
                    System.out.printf(
                            Locale.ROOT, "fine-tune step %.0f, loss %.3f%n", e.number("step"), e.number("loss"));
                case "eval" ->
                    System.out.printf(
                            Locale.ROOT,
                            "perplexity (%s): %.2f%n",
                            e.fields().containsKey("stage")
                                    ? e.fields().get("stage")
                                    : "step " + e.fields().get("step"),
                            e.number("ppl"));
                default -> {}
            }
        });
        System.out.printf(
                Locale.ROOT,
                "compressed %.2fx, perplexity %.2f -> %.2f (packed %.2f), %d layers quantized; wrote %s%n",
                r.compressionRatio(),
                r.pplOriginal(),
                r.pplFinal(),
                r.pplPacked(),
                r.layersQuantized(),
                r.outputs().directory());

        // 3. the compressed model runs its packed ternary weights in place
        try (BitnetModel packed = BitnetModel.load(
                r.outputs().directory(), ModelOptions.defaults().withDevice("cpu"))) {
            int[] ids = packed.generate(packed.tokenize("The history of"), 8, Sampling.greedyDecoding(), true, null);
            System.out.println("packed model (" + packed.isPacked() + "): " + packed.detokenize(ids));
        }
    }
}
