package bitnet.api;

import bitnet.engine.compress.CompressConfig;
import bitnet.engine.quant.Quantizer;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * Every setting of a compression, immutable and validated. Made by a {@link Builder}: defaults,
 * then optionally a JSON config file ({@link Builder#configFile}, the snake_case keys of the
 * README), then typed setters or {@link Builder#set} with the same keys (what the command-line
 * flags map onto). Settings not given explicitly adapt to the model's size when the compression
 * runs (sparsity threshold, target ratio, fine-tuning steps), as documented in the README.
 *
 * <p>Immutable; safe to share between threads and to reuse for several compressions.
 */
public final class CompressSettings {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** How ternary codes are packed. */
    public enum Packing {
        /** Four weights per byte. */
        TWO_BIT("2bit"),
        /** Five weights per byte (1.6 bits per weight). */
        BASE3("base3");

        private final String id;

        Packing(String id) {
            this.id = id;
        }

        /**
         * The config-file name.
         *
         * @return {@code 2bit} or {@code base3}
         */
        public String id() {
            return id;
        }
    }

    /** How embeddings and the output head are stored. */
    public enum EmbeddingPrecision {
        /**
         * Int8, or int4 where that frees room for more int8 linear layers that measure better
         * (chosen with the sensitive layers; int8 without fine-tuning).
         */
        AUTO,
        /** Per-row symmetric int8 (absmax / 127). */
        INT8,
        /** Int4 in blocks of 32 with an F16 scale each, llama.cpp's Q4_0 (rows a multiple of 32; else int8). */
        INT4,
        /** FP16. */
        FP16
    }

    /** Whether compression streams tensor by tensor (memory independent of the model's size, no fine-tuning, no perplexity). */
    public enum Streaming {
        /** Stream when fine-tuning is off and the weights exceed a quarter of the heap. */
        AUTO,
        /** Always stream (fine-tuning must be off). */
        ON,
        /** Never stream. */
        OFF
    }

    private final CompressConfig config;
    private final boolean overwrite;

    private CompressSettings(CompressConfig config, boolean overwrite) {
        this.config = config;
        this.overwrite = overwrite;
    }

    /**
     * A builder with every default.
     *
     * @return a new builder
     */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * A builder starting from these settings.
     *
     * @return a new builder holding a copy of these settings
     */
    public Builder toBuilder() {
        Builder b = new Builder();
        b.c = copy(config);
        b.overwrite = overwrite;
        return b;
    }

    /**
     * The model directory.
     *
     * @return the path
     */
    public Path model() {
        return config.model_path == null ? null : Path.of(config.model_path);
    }

    /**
     * The output directory.
     *
     * @return the path
     */
    public Path output() {
        return Path.of(config.output_path);
    }

    /**
     * Whether an existing output written by bitnet may be replaced.
     *
     * @return the flag
     */
    public boolean overwrite() {
        return overwrite;
    }

    /**
     * The quantizer spec.
     *
     * @return {@code twn}, {@code absmean} or {@code seed:TAU}
     */
    public String quantizer() {
        return config.quantizerSpec();
    }

    /**
     * The packing.
     *
     * @return the packing
     */
    public Packing packing() {
        return config.packing.equals("base3") ? Packing.BASE3 : Packing.TWO_BIT;
    }

    /**
     * The embedding precision.
     *
     * @return the precision
     */
    public EmbeddingPrecision embeddingPrecision() {
        return EmbeddingPrecision.valueOf(config.embedding_precision.toUpperCase(java.util.Locale.ROOT));
    }

    /**
     * The streaming choice.
     *
     * @return the choice
     */
    public Streaming streaming() {
        return Streaming.valueOf(config.streaming.toUpperCase(java.util.Locale.ROOT));
    }

    /**
     * Whether quantization-aware fine-tuning may run.
     *
     * @return the flag
     */
    public boolean fineTuning() {
        return config.enable_fine_tuning;
    }

    /**
     * The compute device.
     *
     * @return auto, cpu, cuda or scalar
     */
    public String device() {
        return config.device;
    }

    /**
     * CPU threads (0 = all cores).
     *
     * @return threads
     */
    public int threads() {
        return config.threads;
    }

    /**
     * Every setting by its snake_case key (as echoed into compression_metadata.json).
     *
     * @return an unmodifiable map
     */
    public Map<String, Object> asMap() {
        return java.util.Collections.unmodifiableMap(config.toMap());
    }

    /**
     * A fresh mutable copy for one run (the engine adapts it to the model's size).
     *
     * @return a copy of the engine's config
     */
    CompressConfig toConfig() {
        return copy(config);
    }

    private static CompressConfig copy(CompressConfig from) {
        CompressConfig to = new CompressConfig();
        for (String k : CompressConfig.keys()) {
            try {
                to.set(k, JSON.valueToTree(CompressConfig.class.getField(k).get(from)));
            } catch (ReflectiveOperationException e) {
                throw new IllegalStateException(e);
            }
        }
        to.explicit.clear();
        to.explicit.addAll(from.explicit);
        to.configFile = from.configFile;
        return to;
    }

    /**
     * Collects settings; {@link #build} validates them. Not thread-safe (one thread fills it).
     */
    public static final class Builder {
        private CompressConfig c = new CompressConfig();
        private boolean overwrite;

        private Builder() {}

        /**
         * Reads a JSON config file (snake_case keys); the file counts as an input that no output may touch.
         *
         * @param file the JSON object file
         * @return this builder
         * @throws bitnet.io.BadInputException when the file is missing, not JSON, or has an unknown key or a wrong type
         */
        public Builder configFile(Path file) {
            c.loadFile(file);
            return this;
        }

        /**
         * Sets one setting by its snake_case key, as the config file would.
         *
         * @param key e.g. {@code fine_tune_steps}
         * @param value a String, Number, Boolean, List of strings, or null
         * @return this builder
         * @throws IllegalArgumentException for an unknown key or a value of the wrong type
         */
        public Builder set(String key, Object value) {
            c.set(key, JSON.valueToTree(value));
            return this;
        }

        /**
         * Whether a key was set explicitly (by the config file or a setter).
         *
         * @param key a snake_case key
         * @return true when set
         */
        public boolean isSet(String key) {
            return c.explicit.contains(key);
        }

        /**
         * The model directory (HF layout).
         *
         * @param dir the directory
         * @return this builder
         */
        public Builder model(Path dir) {
            return set("model_path", dir.toString());
        }

        /**
         * The output directory (written as OUT.partial, then renamed).
         *
         * @param dir the directory
         * @return this builder
         */
        public Builder output(Path dir) {
            return set("output_path", dir.toString());
        }

        /**
         * Replace an existing output that bitnet wrote.
         *
         * @param b the flag
         * @return this builder
         */
        public Builder overwrite(boolean b) {
            this.overwrite = b;
            return this;
        }

        /**
         * Calibration and fine-tuning text: a file, a directory, a .jsonl, or a dataset name.
         *
         * @param source the source
         * @return this builder
         */
        public Builder calibrationData(String source) {
            return set("calibration_dataset", source);
        }

        /**
         * Held-out text for every perplexity.
         *
         * @param source a text file
         * @return this builder
         */
        public Builder evalData(String source) {
            return set("eval_data", source);
        }

        /**
         * The quantizer.
         *
         * @param spec {@code twn}, {@code absmean}, {@code seed} or {@code seed:TAU}
         * @return this builder
         */
        public Builder quantizer(String spec) {
            return set("quantizer", spec);
        }

        /**
         * The packing.
         *
         * @param p the packing
         * @return this builder
         */
        public Builder packing(Packing p) {
            return set("packing", p.id());
        }

        /**
         * The embedding precision.
         *
         * @param p the precision
         * @return this builder
         */
        public Builder embeddingPrecision(EmbeddingPrecision p) {
            return set("embedding_precision", p.name().toLowerCase(java.util.Locale.ROOT));
        }

        /**
         * Streaming on, off or auto.
         *
         * @param s the choice
         * @return this builder
         */
        public Builder streaming(Streaming s) {
            return set("streaming", s.name().toLowerCase(java.util.Locale.ROOT));
        }

        /**
         * Allow quantization-aware fine-tuning.
         *
         * @param b the flag
         * @return this builder
         */
        public Builder fineTuning(boolean b) {
            return set("enable_fine_tuning", b);
        }

        /**
         * The fine-tuning step budget.
         *
         * @param steps steps (0: derived from epochs)
         * @return this builder
         */
        public Builder fineTuneSteps(int steps) {
            return set("fine_tune_steps", steps);
        }

        /**
         * The peak fine-tuning learning rate.
         *
         * @param lr greater than 0
         * @return this builder
         */
        public Builder fineTuneLr(double lr) {
            return set("fine_tune_lr", lr);
        }

        /**
         * The compression-ratio gate (FP32 bytes / packed bytes).
         *
         * @param ratio the target
         * @return this builder
         */
        public Builder targetCompressionRatio(double ratio) {
            return set("target_compression_ratio", ratio);
        }

        /**
         * The quality gate: the largest relative increase of held-out cross-entropy.
         *
         * @param drop e.g. 0.10
         * @return this builder
         */
        public Builder maxAccuracyDrop(double drop) {
            return set("max_accuracy_drop", drop);
        }

        /**
         * Perplexity windows and their length.
         *
         * @param windows at most this many windows
         * @param seqLen tokens predicted per window
         * @return this builder
         */
        public Builder evaluation(int windows, int seqLen) {
            set("eval_windows", windows);
            return set("eval_sequence_length", seqLen);
        }

        /**
         * The random seed.
         *
         * @param seed the seed
         * @return this builder
         */
        public Builder seed(long seed) {
            return set("seed", seed);
        }

        /**
         * The compute device and CPU threads.
         *
         * @param device auto, cpu, cuda or scalar
         * @param threads CPU threads, 0 for all cores
         * @return this builder
         */
        public Builder device(String device, int threads) {
            set("device", device);
            return set("threads", threads);
        }

        /**
         * Validates and freezes the settings.
         *
         * @return the settings
         * @throws IllegalArgumentException for nonsense values (an unknown quantizer, packing, ...)
         */
        public CompressSettings build() {
            if (c.model_path == null) {
                throw new IllegalArgumentException("model_path is not set");
            }
            c.validate();
            if (!List.of("auto", "cpu", "cuda", "scalar").contains(c.device)) {
                throw new IllegalArgumentException("device must be auto, cpu or cuda, not '" + c.device + "'");
            }
            if (c.threads < 0) {
                throw new IllegalArgumentException("threads must be >= 0 (0 = all cores)");
            }
            Quantizer.parse(c.quantizerSpec());
            return new CompressSettings(copy(c), overwrite);
        }
    }

    /**
     * The settings as JSON (for logs).
     *
     * @return a JSON object string
     */
    @Override
    public String toString() {
        try {
            JsonNode n = JSON.valueToTree(config.toMap());
            return n.toString();
        } catch (IllegalArgumentException e) {
            return config.toMap().toString();
        }
    }
}
