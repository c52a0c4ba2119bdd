package bitnet.engine.cli;

import bitnet.api.CompressSettings;
import bitnet.api.Compressor;
import bitnet.api.TextFiles;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

@Command(
        name = "compress",
        description =
                "The whole pipeline: quantize to ternary, measure, fine-tune, save packed + FP16 outputs, verify.")
public final class CompressCmd implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--model", description = "HF model directory (default: the bundled demo model)")
    Path model;

    @Option(names = "--output", description = "output directory (default: bitnet-output)")
    Path output;

    @Option(names = "--config", description = "JSON settings file (snake_case keys; see README)")
    Path config;

    @Option(
            names = "--calibration-data",
            description = "text for calibration and fine-tuning: .txt, .jsonl, a directory, or openwebtext|c4|wikitext")
    String calibration;

    @Option(
            names = "--eval-data",
            description =
                    "held-out text for perplexity (default: the demo's heldout.txt for the demo, else 2%% held out)")
    String evalData;

    @Option(names = "--overwrite", description = "replace an existing output directory")
    boolean overwrite;

    @Option(names = "--quantizer", description = "twn (default) | seed[:TAU] | absmean")
    String quantizer;

    @Option(names = "--packing", description = "2bit (default) | base3")
    String packing;

    @Option(
            names = "--embedding-precision",
            description =
                    "auto (default: int8, or int4 where it frees room for better int8 layers) | int8 | int4 | fp16")
    String embeddingPrecision;

    @Option(names = "--fine-tune-steps", description = "fine-tuning step budget")
    Integer steps;

    @Option(names = "--fine-tune-lr", description = "peak fine-tuning learning rate")
    Double lr;

    @Option(
            names = "--time-budget",
            description = "fine-tune until this wall time is spent (600, 90s, 10m, 1h), warmup + cosine fitted to it")
    String timeBudget;

    @Option(
            names = "--distill",
            description = "off | logits | logits+attention: distil from the original model during fine-tuning")
    String distill;

    @Option(names = "--distill-temperature", description = "temperature of the logits KL")
    Double distillTemperature;

    @Option(names = "--distill-alpha", description = "weight of the logits KL against the next-token loss (0..1)")
    Double distillAlpha;

    @Option(names = "--distill-attention-weight", description = "weight of the attention-relation loss")
    Double distillAttentionWeight;

    @Option(
            names = "--distill-layers",
            description = "attention-distillation layers, comma-separated, negative from the end (default -1)")
    String distillLayers;

    @Option(names = "--no-fine-tune", description = "skip fine-tuning")
    boolean noFineTune;

    @Option(
            names = "--gguf",
            description = "also write bitnet_model.gguf (TQ2_0, for llama.cpp) into the output directory")
    boolean gguf;

    @Option(names = "--target-ratio", description = "compression-ratio gate")
    Double targetRatio;

    @Option(
            names = "--max-accuracy-drop",
            description = "degradation gate (relative increase of held-out cross-entropy)")
    Double maxDrop;

    @Option(names = "--sparsity-threshold", description = "TAU of the seed rule")
    Double tau;

    @Option(names = "--eval-windows", description = "perplexity windows (default 64)")
    Integer evalWindows;

    @Option(names = "--seed", description = "random seed (default 42)")
    Long seed;

    @Option(names = "--device", description = "auto | cpu | cuda")
    String device;

    @Option(names = "--threads", description = "CPU threads (0 = all cores)")
    Integer threads;

    @Option(
            names = "--streaming",
            description = "auto (default) | on | off: tensor-by-tensor compression without fine-tuning")
    String streaming;

    @Option(names = "--json", description = "print the results object as JSON on stdout")
    boolean json;

    @Option(names = "--debug", description = "show stack traces")
    boolean debug;

    @Override
    public Integer call() throws Exception {
        CompressSettings.Builder c = CompressSettings.builder().overwrite(overwrite);
        CompressSettings settings;
        try {
            if (config != null) {
                c.configFile(config);
            }
            if (model != null) {
                c.set("model_path", model.toString());
            }
            if (output != null) {
                c.set("output_path", output.toString());
            }
            if (calibration != null) {
                c.set("calibration_dataset", calibration);
            }
            if (evalData != null) {
                c.set("eval_data", evalData);
            }
            if (quantizer != null) {
                c.set("quantizer", quantizer);
            }
            if (packing != null) {
                c.set("packing", packing);
            }
            if (embeddingPrecision != null) {
                c.set("embedding_precision", embeddingPrecision);
            }
            if (steps != null) {
                c.set("fine_tune_steps", steps);
            }
            if (lr != null) {
                c.set("fine_tune_lr", lr);
            }
            if (timeBudget != null) {
                c.set("fine_tune_time_budget", timeBudget);
            }
            if (distill != null) {
                c.set("distill", distill);
            }
            if (distillTemperature != null) {
                c.set("distill_temperature", distillTemperature);
            }
            if (distillAlpha != null) {
                c.set("distill_alpha", distillAlpha);
            }
            if (distillAttentionWeight != null) {
                c.set("distill_attention_weight", distillAttentionWeight);
            }
            if (distillLayers != null) {
                c.set("distill_layers", distillLayers);
            }
            if (noFineTune) {
                c.set("enable_fine_tuning", false);
            }
            if (gguf) {
                c.set("gguf", true);
            }
            if (targetRatio != null) {
                c.set("target_compression_ratio", targetRatio);
            }
            if (maxDrop != null) {
                c.set("max_accuracy_drop", maxDrop);
            }
            if (tau != null) {
                c.set("sparsity_threshold", tau);
            }
            if (evalWindows != null) {
                c.set("eval_windows", evalWindows);
            }
            if (seed != null) {
                c.set("seed", seed);
            }
            if (streaming != null) {
                c.set("streaming", streaming);
            }
            if (device != null) {
                c.set("device", device);
            }
            if (threads != null) {
                c.set("threads", threads);
            }
            if (!c.isSet("model_path")) {
                c.model(TextFiles.home().resolve("src/demo/model"));
                if (!c.isSet("eval_data")
                        && Files.isRegularFile(TextFiles.home().resolve("src/demo/heldout.txt"))) {
                    c.evalData(TextFiles.home().resolve("src/demo/heldout.txt").toString());
                }
            }
            settings = c.build();
        } catch (IllegalArgumentException e) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(), e.getMessage());
        }
        // an error prints its {"success": false, ...} object with --json in Main, like every command
        Map<String, Object> results = Compressor.compress(settings).json();
        if (json) {
            Outputs.printJson(results);
        } else {
            @SuppressWarnings("unchecked")
            Map<String, Object> m = (Map<String, Object>) results.get("metrics");
            System.err.printf(
                    Locale.ROOT,
                    "compress: %.2fx smaller than FP32, sparsity %.1f%%%s%n",
                    m.get("compression_ratio"),
                    100 * (double) m.get("sparsity_ratio"),
                    m.get("ppl_original") == null
                            ? " (streaming: no perplexity measured)"
                            : String.format(
                                    Locale.ROOT,
                                    ", perplexity %.2f -> %.2f (quantized) -> %.2f (final)",
                                    m.get("ppl_original"),
                                    m.get("ppl_quantized"),
                                    m.get("ppl_final")));
            @SuppressWarnings("unchecked")
            Map<String, Object> paths = (Map<String, Object>) results.get("output_paths");
            System.err.println("compress: wrote " + paths.get("output_dir"));
        }
        if (!Boolean.TRUE.equals(results.get("success"))) {
            throw new QualityGateException(String.valueOf(results.get("error")));
        }
        return 0;
    }
}
