package bitnet.io;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.util.List;

/**
 * A HuggingFace config.json read into one typed record for the architectures the engine runs
 * (GPT-2; the Llama family: llama, mistral, qwen2, qwen3; gemma3_text; phi3; gpt_neox). Both
 * spellings are read: Hub / transformers 4.5x ({@code torch_dtype}, {@code rope_theta},
 * {@code rope_scaling}, {@code rope_local_base_freq}, {@code sliding_window_pattern},
 * {@code rotary_pct}) and transformers 5 ({@code dtype}, {@code rope_parameters}, per layer type
 * for Gemma 3, {@code layer_types}). What only the newer families use sits in {@link Extra}.
 * Missing required fields are a {@link BadInputException} naming the file.
 */
public record ModelConfig(
        Family family,
        String modelType,
        String architecture,
        int vocabSize,
        int hiddenSize,
        int numLayers,
        int numHeads,
        int numKvHeads,
        int headDim,
        int intermediateSize,
        int maxPositions,
        float normEps,
        boolean tieWordEmbeddings,
        boolean qkvBias,
        boolean oBias,
        boolean mlpBias,
        String hiddenAct,
        Rope rope,
        Integer slidingWindow,
        String dtype,
        Integer bosTokenId,
        Integer eosTokenId,
        JsonNode raw,
        Extra extra) {

    public static final List<String> SUPPORTED =
            List.of("gpt2", "llama", "mistral", "qwen2", "qwen3", "gemma3_text", "phi3", "gpt_neox");

    public enum Family {
        GPT2,
        LLAMA,
        QWEN3,
        GEMMA3,
        PHI3,
        GPT_NEOX
    }

    /**
     * Settings of the newer families (defaults: none of them).
     *
     * @param padTokenId the embedding's padding_idx (no gradient from the lookup), or null
     * @param slidingLayers per layer, whether it uses the sliding window (null: every layer does when
     *                      slidingWindow is set)
     * @param localRope Gemma 3's RoPE of the sliding layers (null: the same as the full layers)
     * @param queryPreAttnScalar Gemma 3: attention scaling is this ** -0.5 (0: head_dim ** -0.5)
     * @param attnSoftcap, finalSoftcap Gemma: tanh soft-capping of attention scores / logits (0: off)
     * @param parallelResidual GPT-NeoX: x + attn(ln1(x)) + mlp(ln2(x))
     */
    public record Extra(
            Integer padTokenId,
            boolean[] slidingLayers,
            Rope localRope,
            double queryPreAttnScalar,
            double attnSoftcap,
            double finalSoftcap,
            boolean parallelResidual) {
        public static final Extra NONE = new Extra(null, null, null, 0, 0, 0, false);
    }

    /** The sliding window of layer l (0: full attention). */
    public int window(int l) {
        if (slidingWindow == null || (extra.slidingLayers() != null && !extra.slidingLayers()[l])) {
            return 0;
        }
        return slidingWindow;
    }

    /**
     * Rotary embedding settings. type: default, linear, llama3, longrope. For llama3: factor,
     * lowFreqFactor, highFreqFactor, originalMaxPositions. For linear: factor. For longrope (Phi-3):
     * short and long factors per rotated pair, originalMaxPositions, and attentionFactor that scales
     * cos and sin. partialFactor: the share of each head that rotates (Phi-3, GPT-NeoX).
     */
    public record Rope(
            String type,
            double theta,
            double factor,
            double lowFreqFactor,
            double highFreqFactor,
            int originalMaxPositions,
            double partialFactor,
            List<Double> shortFactor,
            List<Double> longFactor,
            double attentionFactor) {
        public Rope(
                String type,
                double theta,
                double factor,
                double lowFreqFactor,
                double highFreqFactor,
                int originalMaxPositions) {
            this(type, theta, factor, lowFreqFactor, highFreqFactor, originalMaxPositions, 1.0, null, null, 1.0);
        }

        /** Rotated dimensions of a head of size hs: int(hs * partial_rotary_factor), as HF computes it. */
        public int rotaryDim(int hs) {
            return (int) (hs * partialFactor);
        }

        /** HF's inverse frequencies for a head of size hs, after any scaling. */
        public double[] invFreq(int hs) {
            int half = hs / 2;
            double[] inv = new double[half];
            for (int i = 0; i < half; i++) {
                inv[i] = 1.0 / Math.pow(theta, (2.0 * i) / hs);
            }
            switch (type) {
                case "linear" -> {
                    for (int i = 0; i < half; i++) {
                        inv[i] /= factor;
                    }
                }
                case "llama3" -> {
                    double lowWl = originalMaxPositions / lowFreqFactor;
                    double highWl = originalMaxPositions / highFreqFactor;
                    for (int i = 0; i < half; i++) {
                        double wl = 2 * Math.PI / inv[i];
                        if (wl > lowWl) {
                            inv[i] = inv[i] / factor;
                        } else if (wl >= highWl) {
                            double smooth =
                                    (originalMaxPositions / wl - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
                            inv[i] = (1 - smooth) * inv[i] / factor + smooth * inv[i];
                        }
                    }
                }
                default -> {}
            }
            return inv;
        }
    }

    /** Reads config.json strictly and checks every value the engine reads: {@link ModelConfigRules}. */
    public static ModelConfig load(Path file) {
        JsonNode n = Checks.readJson(file);
        ModelConfig c = parse(file, n);
        ModelConfigRules.checkParsed(file, c);
        return c;
    }

    public static ModelConfig parse(Path file, JsonNode n) {
        if (n == null || !n.isObject()) {
            throw new BadInputException(file, "config is not a JSON object");
        }
        ModelConfigRules.check(file, n); // types and ranges of every key read below (new keys: add a rule there)
        String modelType = text(n, "model_type", null);
        if (modelType == null) {
            throw new BadInputException(file, "missing 'model_type' (supported: " + String.join(", ", SUPPORTED) + ")");
        }
        if (!SUPPORTED.contains(modelType)) {
            throw new BadInputException(
                    file,
                    "unsupported model_type '" + modelType + "' (supported: " + String.join(", ", SUPPORTED) + ")");
        }
        String arch = n.has("architectures")
                        && n.get("architectures").isArray()
                        && !n.get("architectures").isEmpty()
                ? n.get("architectures").get(0).asText()
                : modelType;
        String dtype = text(n, "dtype", text(n, "torch_dtype", "float32"));
        Integer bos = intOrNull(n, "bos_token_id");
        Integer eos = intOrNull(n, "eos_token_id");
        switch (modelType) {
            case "gemma3_text" -> {
                return ModelConfigs.gemma3(file, n, arch, dtype, bos, eos);
            }
            case "phi3" -> {
                return ModelConfigs.phi3(file, n, arch, dtype, bos, eos);
            }
            case "gpt_neox" -> {
                return ModelConfigs.gptNeox(file, n, arch, dtype, bos, eos);
            }
            default -> {}
        }
        if (modelType.equals("gpt2")) {
            int c = req(file, n, "n_embd", "hidden_size");
            int nh = req(file, n, "n_head", "num_attention_heads");
            int inner = n.hasNonNull("n_inner") ? n.get("n_inner").asInt() : 4 * c;
            checkHeads(file, c, nh, nh);
            return new ModelConfig(
                    Family.GPT2,
                    modelType,
                    arch,
                    req(file, n, "vocab_size"),
                    c,
                    req(file, n, "n_layer", "num_hidden_layers"),
                    nh,
                    nh,
                    c / nh,
                    inner,
                    req(file, n, "n_positions", "max_position_embeddings"),
                    (float) dbl(n, "layer_norm_epsilon", 1e-5),
                    bool(n, "tie_word_embeddings", true),
                    true,
                    true,
                    true,
                    text(n, "activation_function", "gelu_new"),
                    null,
                    null,
                    dtype,
                    bos,
                    eos,
                    n,
                    Extra.NONE);
        }
        int c = req(file, n, "hidden_size");
        int nh = req(file, n, "num_attention_heads");
        int nkv = n.hasNonNull("num_key_value_heads")
                ? n.get("num_key_value_heads").asInt()
                : nh;
        int hd = n.hasNonNull("head_dim") ? n.get("head_dim").asInt() : c / Math.max(nh, 1);
        if (nh <= 0 || nkv <= 0 || nh % nkv != 0 || hd <= 0 || hd % 2 != 0) {
            throw new BadInputException(
                    file, "bad attention shape: heads " + nh + ", kv heads " + nkv + ", head_dim " + hd);
        }
        boolean attnBias = bool(n, "attention_bias", false);
        boolean qkvBias = modelType.equals("qwen2") || attnBias;
        boolean oBias = attnBias && !modelType.equals("qwen2");
        Integer window = null;
        boolean qwen = modelType.startsWith("qwen");
        if (n.hasNonNull("sliding_window") && bool(n, "use_sliding_window", !qwen)) {
            window = n.get("sliding_window").asInt();
        }
        boolean[] sliding = null;
        if (modelType.equals("qwen3")) {
            // Qwen3Config: sliding only from max_window_layers on (layer_types, when given, says it per layer)
            int layers = req(file, n, "num_hidden_layers");
            sliding = ModelConfigs.layerTypes(
                    file, n, layers, i -> i >= n.path("max_window_layers").asInt(layers));
        }
        String act = text(n, "hidden_act", "silu");
        if (!act.equals("silu") && !act.equals("swish")) {
            throw new BadInputException(file, "unsupported hidden_act '" + act + "' (supported: silu)");
        }
        return new ModelConfig(
                modelType.equals("qwen3") ? Family.QWEN3 : Family.LLAMA,
                modelType,
                arch,
                req(file, n, "vocab_size"),
                c,
                req(file, n, "num_hidden_layers"),
                nh,
                nkv,
                hd,
                req(file, n, "intermediate_size"),
                n.hasNonNull("max_position_embeddings")
                        ? n.get("max_position_embeddings").asInt()
                        : 2048,
                (float) dbl(n, "rms_norm_eps", 1e-6),
                bool(n, "tie_word_embeddings", false),
                qkvBias,
                oBias,
                bool(n, "mlp_bias", false),
                act,
                rope(file, n),
                window,
                dtype,
                bos,
                eos,
                n,
                new Extra(intOrNull(n, "pad_token_id"), sliding, null, 0, 0, 0, false));
    }

    static Rope rope(Path file, JsonNode n) {
        JsonNode p = n.get("rope_parameters");
        if (p == null || !p.isObject()) {
            p = n.get("rope_scaling");
        }
        double theta = dbl(n, "rope_theta", 10000.0);
        String type = "default";
        double factor = 1, lo = 1, hi = 4;
        int orig = 8192;
        if (p != null && p.isObject()) {
            theta = dbl(p, "rope_theta", theta);
            type = text(p, "rope_type", text(p, "type", "default"));
            factor = dbl(p, "factor", 1);
            lo = dbl(p, "low_freq_factor", 1);
            hi = dbl(p, "high_freq_factor", 4);
            orig = p.hasNonNull("original_max_position_embeddings")
                    ? p.get("original_max_position_embeddings").asInt()
                    : orig;
        }
        if (!List.of("default", "linear", "llama3").contains(type)) {
            throw new BadInputException(
                    file, "unsupported rope_type '" + type + "' (supported: default, linear, llama3)");
        }
        return new Rope(type, theta, factor, lo, hi, orig);
    }

    static void checkHeads(Path file, int c, int nh, int nkv) {
        if (nh <= 0 || c % nh != 0) {
            throw new BadInputException(file, "hidden size " + c + " is not divisible by " + nh + " heads");
        }
    }

    static int req(Path file, JsonNode n, String... keys) {
        for (String k : keys) {
            if (n.hasNonNull(k)) {
                JsonNode v = n.get(k);
                if (!v.canConvertToInt() || v.asInt() <= 0) {
                    throw new BadInputException(file, "'" + k + "' must be a positive integer, got " + v);
                }
                return v.asInt();
            }
        }
        throw new BadInputException(
                file,
                "missing '" + keys[0] + "'"
                        + (keys.length > 1
                                ? " (or '" + String.join("', '", List.of(keys).subList(1, keys.length)) + "')"
                                : ""));
    }

    static String text(JsonNode n, String k, String def) {
        return n.hasNonNull(k) ? n.get(k).asText() : def;
    }

    static double dbl(JsonNode n, String k, double def) {
        return n.hasNonNull(k) ? n.get(k).asDouble() : def;
    }

    static boolean bool(JsonNode n, String k, boolean def) {
        return n.hasNonNull(k) ? n.get(k).asBoolean() : def;
    }

    static Integer intOrNull(JsonNode n, String k) {
        JsonNode v = n.get(k);
        if (v == null || v.isNull()) {
            return null;
        }
        if (v.isArray()) {
            return v.isEmpty() ? null : v.get(0).asInt();
        }
        return v.asInt();
    }

    /** Number of KV groups (query heads per KV head). */
    public int groups() {
        return numHeads / numKvHeads;
    }
}
