package bitnet.engine.compress;

import bitnet.io.BadInputException;
import bitnet.io.Checks;
import com.fasterxml.jackson.databind.JsonNode;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Every compress setting, with its default; read from a JSON file (--config, snake_case keys as
 * below), then flags, then adapted to the model's size for whatever the user did not set.
 * The whole object is echoed into compression_metadata.json.
 *
 * <p>Defaults that differ from the seed's, because they measured better on the demo model (see
 * the README): quantizer twn (per-row MSE-optimal, ppl 201 before fine-tuning vs the seed rule's
 * 2535), fine_tune_lr 2e-4 with warmup and cosine decay (1e-5 barely moves in the time budget; 5e-4
 * made the loss rise), Grokfast off (on the demo with twn + 2e-4, held-out perplexity after 100/200/300
 * steps was 103.6/99.3/98.6 without it and 154.7/130.2/115.7 with ema:0.98:2.0; PyTorch saw the
 * same direction: 104.5 vs 111.6 after 600 steps), 600 steps for tiny models (size-adapted like the threshold), and int8 embeddings (per-row absmax: the demo's tied 8192x192 embedding
 * is half its parameters, and FP16 storage caps the whole file at 3.6x).
 */
public final class CompressConfig {
    public String model_path;
    public String output_path = "bitnet-output";
    public String device = "auto";
    public int threads = 0;
    /** seed:TAU (TAU from sparsity_threshold when written as "seed"), absmean, twn. */
    public String quantizer = "twn";

    public double sparsity_threshold = 0.1;
    public boolean per_channel = true;
    public List<String> preserve_patterns =
            new ArrayList<>(List.of("embed", "wte", "wpe", "lm_head", "norm", "ln_", "bias"));
    public int preserve_min_elements = 1024;

    /** Whether compression keeps a tensor at its precision: fewer than preserve_min_elements, or a preserve pattern in its name. */
    public boolean preserves(String name, long numel) {
        return numel < preserve_min_elements || preserve_patterns.stream().anyMatch(name::contains);
    }

    /**
     * Linear layers (names containing one of these) stored as per-row int8 instead of ternary:
     * the most sensitive layers, while the size target still holds. Empty by default.
     */
    public List<String> int8_patterns = new ArrayList<>();
    /**
     * auto | off. auto (with fine-tuning, when int8_patterns is empty): measure each linear layer's
     * sensitivity and store the most sensitive as int8 while the packed file still meets
     * target_compression_ratio ({@link SensitiveLayers}). On the demo (50 steps of 2x256, logits
     * distillation) 111.5 held-out perplexity against 116.7 all ternary, at 6.006x.
     */
    public String sensitive_int8 = "auto";

    /**
     * auto | int8 | int4 | fp16: how embeddings and the output head are stored. auto is int8, or
     * int4 (llama.cpp's Q4_0 blocks) when sensitive_int8 auto measures that the bytes int4 frees
     * hold int8 layers worth more than int4 costs ({@link SensitiveLayers}). On the demo (tied
     * embedding, half the parameters) int4 plus the first two layers at int8: 92.2 after the
     * fine-tuning of a 6-minute budget (FP16 output with its embedding rounded to int4 after
     * fine-tuning), against 98.8 with int8 embeddings and one int8 layer.
     */
    public String embedding_precision = "auto";

    public String packing = "2bit";
    public double target_compression_ratio = 8.0;
    public String calibration_dataset;
    public int calibration_samples = 1000;
    public int calibration_sequence_length = 512;
    public int calibration_batch_size = 4;
    public String eval_data;
    public int eval_sequence_length = 256;
    public int eval_windows = 64;
    public boolean enable_fine_tuning = true;
    public double fine_tune_epochs = 2;
    /** When > 0, the step budget (overrides fine_tune_epochs). */
    public int fine_tune_steps = 0;

    public int fine_tune_batch_size = 16;
    public int fine_tune_sequence_length = 256;
    public double fine_tune_lr = 2e-4;
    public double fine_tune_min_lr_ratio = 0.1;
    public int warmup_steps = 50;
    /**
     * When > 0, per-row scales are learned (LSQ) during fine-tuning at this fraction of
     * fine_tune_lr and packed as learned; 0: the quantizer's scales are recomputed each step.
     */
    public double scale_lr_ratio = 0;

    public String grokfast = "off";
    /**
     * off | logits | logits+attention: distil from the original model as a frozen teacher during
     * fine-tuning. logits by default: on the demo (100 steps of 4x256) held-out perplexity 109.3
     * against 113.3 for plain QAT at equal steps, for about 20% more time per step; the attention
     * term (107.9) costs another ~18% per step (see README).
     */
    public String distill = "logits";

    public double distill_temperature = 1.0;
    /**
     * Weight of the logits KL (times T²) against (1 - alpha) of the next-token loss. 0.9: on the
     * demo (50 steps of 2x256) held-out perplexity 113.4 against 116.7 with 0.5; T = 2 was worse
     * (117.8) than T = 1.
     */
    public double distill_alpha = 0.9;
    /** Weight of the MiniLM q/k/v attention-relation loss (logits+attention). */
    public double distill_attention_weight = 1.0;
    /** Layers for attention-relation distillation, comma-separated, negative from the end. */
    public String distill_layers = "-1";
    /** Sequences per teacher pass (teacher logits held for this many sequences at once). */
    public int distill_chunk = 4;
    /** Fine-tune until this much wall time is spent ("600", "600s", "10m", "1h"; "" or "0" = step budget), schedule fitted to it. */
    public String fine_tune_time_budget = "";

    public double max_grad_norm = 1.0;
    public double weight_decay = 0.0;
    public int eval_every = 100;
    public double max_accuracy_drop = 0.10;
    /**
     * Fine-tuning is skipped when the held-out degradation after quantization (relative increase of
     * the cross-entropy) is at most this; negative: always fine-tune. 0.01: with int4 embeddings and
     * the most sensitive layers at int8 the demo quantizes to 2.7% (99.3 ppl against 88.05), which
     * the former 0.05 left without the fine-tuning that takes it to ~92.
     */
    public double fine_tune_threshold = 0.01;

    public long seed = 42;
    public boolean write_metrics = true;
    public boolean write_report = true;
    public boolean allow_nonfinite = false;
    /**
     * auto | on | off. Streaming (fine-tuning off only) reads, quantizes and writes tensor by
     * tensor with memory independent of the model's size, but measures no perplexity. auto streams
     * when fine-tuning is off and the weights exceed a quarter of the heap.
     */
    public String streaming = "auto";
    /** Also write bitnet_model.gguf (llama.cpp, TQ2_0) into the output directory. */
    public boolean gguf = false;

    /** Keys the user set (file or flags): size adaptation leaves them alone. */
    public final transient Set<String> explicit = new LinkedHashSet<>();
    /** The --config file this was read from, if any: an input that no output may touch. */
    public transient Path configFile;

    /** Reads a JSON config file: unknown keys and wrong types are bad input naming the file. */
    public void loadFile(Path file) {
        configFile = file;
        JsonNode n = Checks.readJson(file); // strict: trailing content, duplicate keys, NaN literals refused
        if (n == null || !n.isObject()) {
            throw new BadInputException(file, "a compress config must be a JSON object");
        }
        for (Iterator<Map.Entry<String, JsonNode>> it = n.fields(); it.hasNext(); ) {
            var e = it.next();
            try {
                set(e.getKey(), e.getValue());
            } catch (IllegalArgumentException ex) {
                throw new BadInputException(file, ex.getMessage());
            }
            fromFile.add(e.getKey());
        }
    }

    /**
     * The range of every numeric key ({@link Checks.Range}); {@code CompressConfigPropertyTest}
     * checks that each numeric field has one and feeds it bad values. A gate or budget that is
     * NaN or negative would silently turn off, so these are checked when the key is set, before
     * any work.
     */
    public static final Map<String, Checks.Range> RANGES = Map.ofEntries(
            Map.entry("threads", Checks.Range.NON_NEGATIVE_INT),
            Map.entry("sparsity_threshold", Checks.Range.NON_NEGATIVE),
            Map.entry("preserve_min_elements", Checks.Range.NON_NEGATIVE_INT),
            Map.entry("target_compression_ratio", Checks.Range.POSITIVE),
            Map.entry("calibration_samples", Checks.Range.POSITIVE_INT),
            Map.entry("calibration_sequence_length", Checks.Range.POSITIVE_INT),
            Map.entry("calibration_batch_size", Checks.Range.POSITIVE_INT),
            Map.entry("eval_sequence_length", Checks.Range.POSITIVE_INT),
            Map.entry("eval_windows", Checks.Range.POSITIVE_INT),
            Map.entry("fine_tune_epochs", Checks.Range.NON_NEGATIVE),
            Map.entry("fine_tune_steps", Checks.Range.NON_NEGATIVE_INT),
            Map.entry("fine_tune_batch_size", Checks.Range.POSITIVE_INT),
            Map.entry("fine_tune_sequence_length", Checks.Range.POSITIVE_INT),
            Map.entry("fine_tune_lr", Checks.Range.POSITIVE),
            Map.entry("fine_tune_min_lr_ratio", Checks.Range.UNIT),
            Map.entry("warmup_steps", Checks.Range.NON_NEGATIVE_INT),
            Map.entry("scale_lr_ratio", Checks.Range.NON_NEGATIVE),
            Map.entry("max_grad_norm", Checks.Range.NON_NEGATIVE),
            Map.entry("weight_decay", Checks.Range.NON_NEGATIVE),
            Map.entry("eval_every", Checks.Range.POSITIVE_INT),
            Map.entry("max_accuracy_drop", Checks.Range.NON_NEGATIVE),
            Map.entry("fine_tune_threshold", Checks.Range.ANY_FINITE), // negative: always fine-tune
            Map.entry("distill_temperature", Checks.Range.POSITIVE),
            Map.entry("distill_alpha", Checks.Range.UNIT),
            Map.entry("distill_attention_weight", Checks.Range.NON_NEGATIVE),
            Map.entry("distill_chunk", Checks.Range.POSITIVE_INT),
            Map.entry("seed", Checks.Range.ANY_LONG));

    /** Keys whose current value came from the --config file (a flag setting one removes it). */
    private final transient Set<String> fromFile = new LinkedHashSet<>();

    /**
     * Sets one key from JSON; IllegalArgumentException naming the key on an unknown key, a wrong
     * type, a number out of its {@link #RANGES range} or an unknown choice (quantizer, packing...).
     */
    public void set(String key, JsonNode v) {
        fromFile.remove(key);
        Field f;
        try {
            f = CompressConfig.class.getField(key);
        } catch (NoSuchFieldException e) {
            throw new IllegalArgumentException(
                    "unknown setting '" + key + "' (known: " + String.join(", ", keys()) + ")");
        }
        try {
            Class<?> t = f.getType();
            if (v == null || v.isNull()) {
                if (t.isPrimitive()) {
                    throw new IllegalArgumentException("'" + key + "' cannot be null");
                }
                f.set(this, null);
            } else if (t == String.class) {
                require(v.isTextual(), key, "a string");
                f.set(this, v.asText());
            } else if (t == int.class) {
                require(
                        v.isIntegralNumber() && v.canConvertToInt(),
                        key,
                        RANGES.get(key).describe());
                f.setInt(this, (int) checkNumber(key, v));
            } else if (t == long.class) {
                require(
                        v.isIntegralNumber() && v.canConvertToLong(),
                        key,
                        RANGES.get(key).describe());
                checkNumber(key, v);
                f.setLong(this, v.asLong());
            } else if (t == double.class) {
                require(v.isNumber(), key, RANGES.get(key).describe());
                f.setDouble(this, checkNumber(key, v));
            } else if (t == boolean.class) {
                require(v.isBoolean(), key, "true or false");
                f.setBoolean(this, v.asBoolean());
            } else if (t == List.class) {
                require(v.isArray(), key, "a list of strings");
                List<String> l = new ArrayList<>();
                v.forEach(x -> {
                    require(x.isTextual(), key, "a list of strings");
                    l.add(x.asText());
                });
                f.set(this, l);
            }
        } catch (IllegalAccessException e) {
            throw new IllegalStateException(e);
        }
        checkChoice(key);
        explicit.add(key);
    }

    private static double checkNumber(String key, JsonNode v) {
        double d = v.asDouble();
        String p = RANGES.get(key).problem(d);
        if (p != null) {
            throw new IllegalArgumentException("'" + key + "' " + p);
        }
        return d;
    }

    /** The keys with a fixed set of values, checked as soon as they are set (not after quantization). */
    private void checkChoice(String key) {
        switch (key) {
            case "embedding_precision" -> oneOf(key, embedding_precision, "auto", "int8", "int4", "fp16");
            case "streaming" -> oneOf(key, streaming, "auto", "on", "off");
            case "packing" -> oneOf(key, packing, "2bit", "base3");
            case "sensitive_int8" -> oneOf(key, sensitive_int8, "auto", "off");
            case "device" -> oneOf(key, device, "auto", "cpu", "cuda", "scalar");
            case "quantizer" -> {
                String q = quantizer == null ? "" : quantizer.trim().toLowerCase(Locale.ROOT);
                if (!q.equals("seed")) {
                    try {
                        bitnet.engine.quant.Quantizer.parse(q);
                    } catch (IllegalArgumentException e) {
                        throw new IllegalArgumentException("'quantizer': " + e.getMessage());
                    }
                }
            }
            case "distill" -> {
                try {
                    bitnet.engine.train.Distill.parseMode(distill == null ? "" : distill);
                } catch (IllegalArgumentException e) {
                    throw new IllegalArgumentException("'distill': " + e.getMessage());
                }
            }
            case "distill_layers" -> {
                try {
                    bitnet.engine.train.Distill.parseLayers(distill_layers);
                } catch (IllegalArgumentException e) {
                    throw new IllegalArgumentException("'distill_layers': " + e.getMessage());
                }
            }
            case "fine_tune_time_budget" -> timeBudgetSeconds();
            case "grokfast" -> {
                try {
                    bitnet.engine.train.Grokfast.parse(grokfast == null ? "" : grokfast);
                } catch (IllegalArgumentException e) {
                    throw new IllegalArgumentException("'grokfast': " + e.getMessage());
                }
            }
            default -> {}
        }
    }

    private static void oneOf(String key, String v, String... allowed) {
        if (v == null || !List.of(allowed).contains(v)) {
            throw new IllegalArgumentException(
                    "'" + key + "' must be one of " + String.join(", ", allowed) + ", not '" + v + "'");
        }
    }

    private static void require(boolean ok, String key, String what) {
        if (!ok) {
            throw new IllegalArgumentException("'" + key + "' must be " + what);
        }
    }

    /**
     * Every file or directory this run reads (model, config, calibration and eval data), for the
     * rule that an output never touches an input. Dataset names resolve as TextData does.
     */
    public List<Path> inputPaths() {
        List<Path> in = new ArrayList<>();
        if (model_path != null) {
            in.add(Path.of(model_path));
        }
        if (configFile != null) {
            in.add(configFile);
        }
        for (String d : new String[] {calibration_dataset, eval_data}) {
            if (d == null || d.isBlank()) {
                continue;
            }
            in.add(Path.of(d));
            String env = System.getenv("BITNET_DATASET_" + d.toUpperCase(Locale.ROOT));
            if (env != null && !env.isBlank()) {
                in.add(Path.of(env));
            }
        }
        return in;
    }

    public static List<String> keys() {
        List<String> k = new ArrayList<>();
        for (Field f : CompressConfig.class.getFields()) {
            if (!Modifier.isStatic(f.getModifiers()) && !Modifier.isTransient(f.getModifiers())) {
                k.add(f.getName());
            }
        }
        return k;
    }

    /** Size category by parameter count (tiny < 50M, small < 500M, medium < 2B, large). */
    public static String category(long params) {
        if (params < 50_000_000L) {
            return "tiny";
        }
        if (params < 500_000_000L) {
            return "small";
        }
        if (params < 2_000_000_000L) {
            return "medium";
        }
        return "large";
    }

    /** Adapts sparsity_threshold and target_compression_ratio to the category, unless set explicitly. */
    public String adaptToSize(long params) {
        String c = category(params);
        double tau = switch (c) {
            case "tiny" -> 0.05;
            case "small" -> 0.10;
            case "medium" -> 0.15;
            default -> 0.20;
        };
        double target = switch (c) {
            case "tiny" -> 6.0;
            case "small" -> 8.0;
            case "medium" -> 10.0;
            default -> 12.0;
        };
        if (!explicit.contains("sparsity_threshold")) {
            sparsity_threshold = tau;
        }
        if (!explicit.contains("target_compression_ratio")) {
            target_compression_ratio = target;
        }
        // a tiny model: at most the wall time of the 600 plain QAT steps of before, spent on distilled
        // steps (the teacher's forward makes a step 1.2x (demo) to 1.33x (15.7M Llama) longer on Zen 3;
        // 420 of them leave room up to 1.43x on other CPUs), cut to TINY_SECONDS_PER_MPARAM per million parameters (at
        // least 6 minutes)
        // where the CPU is too slow for them. Time per step grows with the parameter count, so the
        // cut leaves every tiny model about the same number of steps on a given CPU: on 2 Zen 3 cores
        // the demo (3.2M) gets 6.4 minutes, ~215 steps, and a 15.7M Llama 31 minutes, ~250 steps
        // (a flat 6 minutes left it 48, at 7.4 s a step). An explicit step, epoch or time budget
        // replaces this.
        if (c.equals("tiny") && !explicit.contains("fine_tune_steps") && !explicit.contains("fine_tune_epochs")) {
            boolean distilled = bitnet.engine.train.Distill.parseMode(distill) != bitnet.engine.train.Distill.Mode.OFF;
            fine_tune_steps = distilled ? 420 : 600;
            if (!explicit.contains("fine_tune_time_budget")) {
                fine_tune_time_budget = tinyBudgetSeconds(params) + "s";
            }
        }
        return c;
    }

    /** Seconds of fine-tuning a tiny model may take per million parameters (see adaptToSize). */
    static final double TINY_SECONDS_PER_MPARAM = 120;

    /** A tiny model's default fine-tuning time: TINY_SECONDS_PER_MPARAM per million parameters, at least 6 minutes. */
    public static long tinyBudgetSeconds(long params) {
        return Math.round(Math.max(360, TINY_SECONDS_PER_MPARAM * params / 1e6));
    }

    /** The distillation settings (Distill.OFF when off). */
    public bitnet.engine.train.Distill distillSettings() {
        var mode = bitnet.engine.train.Distill.parseMode(distill);
        if (mode == bitnet.engine.train.Distill.Mode.OFF) {
            return bitnet.engine.train.Distill.OFF;
        }
        var d = new bitnet.engine.train.Distill(
                mode,
                (float) distill_temperature,
                (float) distill_alpha,
                (float) distill_attention_weight,
                bitnet.engine.train.Distill.parseLayers(distill_layers),
                distill_chunk);
        d.validate();
        return d;
    }

    /** fine_tune_time_budget in seconds (0 = none). */
    public double timeBudgetSeconds() {
        return parseDuration(fine_tune_time_budget);
    }

    /** "90", "90s", "10m", "1.5h" to seconds; "" or null is 0. */
    public static double parseDuration(String s) {
        if (s == null || s.isBlank()) {
            return 0;
        }
        String t = s.trim().toLowerCase(Locale.ROOT);
        double unit = 1;
        if (t.endsWith("s")) {
            t = t.substring(0, t.length() - 1);
        } else if (t.endsWith("m")) {
            unit = 60;
            t = t.substring(0, t.length() - 1);
        } else if (t.endsWith("h")) {
            unit = 3600;
            t = t.substring(0, t.length() - 1);
        }
        try {
            double v = Double.parseDouble(t) * unit;
            if (!(v >= 0) || Double.isInfinite(v)) {
                throw new NumberFormatException();
            }
            return v;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(
                    "fine_tune_time_budget must be a duration like 600, 90s, 10m or 1h, not '" + s + "'");
        }
    }

    /** The quantizer spec to parse ("seed" alone takes sparsity_threshold). */
    public String quantizerSpec() {
        String q = quantizer.trim().toLowerCase(Locale.ROOT);
        return q.equals("seed") ? "seed:" + sparsity_threshold : q;
    }

    /** All settings as a map (for metadata). */
    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        for (String k : keys()) {
            try {
                m.put(k, CompressConfig.class.getField(k).get(this));
            } catch (ReflectiveOperationException e) {
                throw new IllegalStateException(e);
            }
        }
        m.put("explicitly_set", List.copyOf(explicit));
        return m;
    }

    /**
     * Checks what single keys cannot: every value again (defaults included) and the keys that
     * must agree. A problem caused by the --config file alone is bad input naming the file (exit
     * 3); one a flag took part in is IllegalArgumentException (exit 2).
     */
    public void validate() {
        for (String k : keys()) {
            try {
                Field f = CompressConfig.class.getField(k);
                if (RANGES.containsKey(k)) {
                    double d = ((Number) f.get(this)).doubleValue();
                    String p = RANGES.get(k).problem(d);
                    if (p != null) {
                        fail("'" + k + "' " + p, k);
                    }
                }
            } catch (ReflectiveOperationException e) {
                throw new IllegalStateException(e);
            }
        }
        for (String k : List.of(
                "embedding_precision",
                "streaming",
                "packing",
                "sensitive_int8",
                "device",
                "quantizer",
                "grokfast",
                "distill",
                "distill_layers",
                "fine_tune_time_budget")) {
            try {
                checkChoice(k);
            } catch (IllegalArgumentException e) {
                fail(e.getMessage(), k);
            }
        }
        if (streaming.equals("on") && enable_fine_tuning) {
            fail("'streaming' on needs 'enable_fine_tuning' false (--no-fine-tune)", "streaming", "enable_fine_tuning");
        }
    }

    /** Bad input naming the file when the file set one of keys and no flag set any of them; else a usage error. */
    private void fail(String msg, String... keys) {
        List<String> ks = List.of(keys);
        boolean byFile = ks.stream().anyMatch(fromFile::contains);
        boolean byFlag = ks.stream().anyMatch(k -> explicit.contains(k) && !fromFile.contains(k));
        if (configFile != null && byFile && !byFlag) {
            throw new BadInputException(configFile, msg);
        }
        throw new IllegalArgumentException(msg);
    }
}
