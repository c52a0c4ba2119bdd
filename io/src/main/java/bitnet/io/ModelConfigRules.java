package bitnet.io;

import bitnet.io.Checks.Range;
import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The rules for every config.json key the engine reads, checked before {@link ModelConfig}
 * reads a value: a number of the wrong type, NaN/Inf, out of its range, a boolean written as
 * "yes" or a string where a number belongs is bad input naming config.json and the key (exit 3).
 * Keys the engine does not read are not checked.
 *
 * <p>Adding a config key: put its rule in {@link #TOP} (or {@link #ROPE} for a key inside
 * rope_scaling / rope_parameters) with one of the kinds below; {@code ModelConfigRulesTest}
 * (engine: {@code ConfigPropertyTest}) then feeds it NaN, ±Inf, 0, negative, huge and wrong-typed
 * values automatically. Cross-key consistency (rope frequencies) is {@link #checkParsed}.
 */
public final class ModelConfigRules {
    private ModelConfigRules() {}

    /** What a key may hold. */
    public sealed interface Rule permits Num, Bool, Text, TextList, IdOrIds, Obj {}

    /** A number obeying range; nullable keys may also be JSON null. */
    public record Num(Range range) implements Rule {}

    public record Bool() implements Rule {}

    public record Text() implements Rule {}

    /** An array of strings (architectures). */
    public record TextList() implements Rule {}

    /** A token id (integer >= 0) or a list of them (eos_token_id may be either). */
    public record IdOrIds() implements Rule {}

    /** A JSON object (rope_scaling, rope_parameters), whose keys follow {@link #ROPE}. */
    public record Obj() implements Rule {}

    private static final Rule WIDTH = new Num(Range.intBetween(1, 1 << 20));
    private static final Rule LENGTH = new Num(Range.intBetween(1, 1 << 24));
    private static final Rule EPS = new Num(Range.OPEN_UNIT);
    private static final Rule POSITIVE = new Num(Range.POSITIVE);

    /** Top-level keys of config.json. */
    public static final Map<String, Rule> TOP = new LinkedHashMap<>();
    /** Keys inside rope_scaling / rope_parameters. */
    public static final Map<String, Rule> ROPE = new LinkedHashMap<>();

    static {
        // sizes: positive and below a bound no real model reaches (1M wide, 16M positions or
        // vocabulary entries), so a typo cannot ask for an allocation past what an array holds
        for (String k : new String[] {
            "hidden_size",
            "n_embd",
            "num_hidden_layers",
            "n_layer",
            "num_attention_heads",
            "n_head",
            "num_key_value_heads",
            "head_dim",
            "intermediate_size",
            "n_inner"
        }) {
            TOP.put(k, WIDTH);
        }
        for (String k : new String[] {"vocab_size", "max_position_embeddings", "n_positions", "sliding_window"}) {
            TOP.put(k, LENGTH);
        }
        TOP.put("rms_norm_eps", EPS);
        TOP.put("layer_norm_epsilon", EPS);
        TOP.put("layer_norm_eps", EPS);
        TOP.put("rope_theta", POSITIVE);
        TOP.put("tie_word_embeddings", new Bool());
        TOP.put("attention_bias", new Bool());
        TOP.put("mlp_bias", new Bool());
        TOP.put("use_sliding_window", new Bool());
        TOP.put("model_type", new Text());
        TOP.put("hidden_act", new Text());
        TOP.put("activation_function", new Text());
        TOP.put("dtype", new Text());
        TOP.put("torch_dtype", new Text());
        TOP.put("architectures", new TextList());
        TOP.put("bos_token_id", new IdOrIds());
        TOP.put("eos_token_id", new IdOrIds());
        TOP.put("rope_scaling", new Obj());
        TOP.put("rope_parameters", new Obj());
        // the newer families (Qwen3, Gemma 3, Phi-3, GPT-NeoX)
        TOP.put("max_window_layers", new Num(Range.intBetween(0, 1 << 20)));
        TOP.put("sliding_window_pattern", WIDTH);
        TOP.put("_sliding_window_pattern", WIDTH);
        TOP.put("query_pre_attn_scalar", POSITIVE);
        TOP.put("rope_local_base_freq", POSITIVE);
        TOP.put("rotary_emb_base", POSITIVE);
        TOP.put("partial_rotary_factor", new Num(Range.UNIT_OPEN_BOTTOM));
        TOP.put("rotary_pct", new Num(Range.UNIT_OPEN_BOTTOM));
        TOP.put("attn_logit_softcapping", POSITIVE);
        TOP.put("final_logit_softcapping", POSITIVE);
        TOP.put("original_max_position_embeddings", LENGTH);
        TOP.put("use_parallel_residual", new Bool());
        TOP.put("hidden_activation", new Text());
        TOP.put("layer_types", new TextList());
        // -1 allowed: some Hub configs write it for "no padding token"
        TOP.put("pad_token_id", new Num(Range.intBetween(-1, 1 << 24)));

        ROPE.put("rope_theta", POSITIVE);
        ROPE.put("rope_type", new Text());
        ROPE.put("type", new Text());
        ROPE.put("factor", POSITIVE);
        ROPE.put("low_freq_factor", POSITIVE);
        ROPE.put("high_freq_factor", POSITIVE);
        ROPE.put("original_max_position_embeddings", LENGTH);
        ROPE.put("attention_factor", POSITIVE);
        ROPE.put("partial_rotary_factor", new Num(Range.UNIT_OPEN_BOTTOM));
    }

    /** Checks every known key of a parsed config.json against its rule (before any value is used). */
    public static void check(Path file, JsonNode n) {
        if (n == null || !n.isObject()) {
            return; // ModelConfig says "not a JSON object"
        }
        checkAll(file, n, TOP, "");
        for (String k : new String[] {"rope_scaling", "rope_parameters"}) {
            JsonNode p = n.get(k);
            if (p != null && p.isObject()) {
                checkAll(file, p, ROPE, k + ".");
                // transformers 5 writes Gemma 3's per layer type: rope_parameters.full_attention.rope_theta
                for (String t : new String[] {"full_attention", "sliding_attention"}) {
                    JsonNode q = p.get(t);
                    if (q != null && q.isObject()) {
                        checkAll(file, q, ROPE, k + "." + t + ".");
                    }
                }
            }
        }
    }

    private static void checkAll(Path file, JsonNode n, Map<String, Rule> rules, String prefix) {
        for (Map.Entry<String, Rule> e : rules.entrySet()) {
            JsonNode v = n.get(e.getKey());
            if (v == null || v.isNull()) {
                continue;
            }
            checkValue(file, prefix + e.getKey(), v, e.getValue());
        }
    }

    private static void checkValue(Path file, String key, JsonNode v, Rule rule) {
        switch (rule) {
            case Num num -> Checks.number(file, key, v, num.range());
            case Bool b -> {
                if (!v.isBoolean()) {
                    throw new BadInputException(
                            file, "'" + key + "' must be true or false, got " + Checks.shortJson(v));
                }
            }
            case Text t -> {
                if (!v.isTextual()) {
                    throw new BadInputException(file, "'" + key + "' must be a string, got " + Checks.shortJson(v));
                }
            }
            case TextList t -> {
                if (!v.isArray()) {
                    throw new BadInputException(
                            file, "'" + key + "' must be a list of strings, got " + Checks.shortJson(v));
                }
                for (JsonNode x : v) {
                    if (!x.isTextual()) {
                        throw new BadInputException(
                                file, "'" + key + "' must be a list of strings, got " + Checks.shortJson(v));
                    }
                }
            }
            case IdOrIds t -> {
                if (v.isArray()) {
                    for (JsonNode x : v) {
                        Checks.number(file, key, x, Range.NON_NEGATIVE_INT);
                    }
                } else {
                    Checks.number(file, key, v, Range.NON_NEGATIVE_INT);
                }
            }
            case Obj o -> {
                if (!v.isObject()) {
                    throw new BadInputException(
                            file, "'" + key + "' must be a JSON object, got " + Checks.shortJson(v));
                }
            }
        }
    }

    /**
     * Consistency of the values once read: the rotary frequencies must be finite and positive
     * (llama3 scaling divides by high_freq_factor - low_freq_factor); shapes are checked against
     * the tensors when they are loaded.
     */
    public static void checkParsed(Path file, ModelConfig c) {
        // bos/eos ids past vocab_size are left alone: HF accepts them (tiny test models keep GPT-2's
        // 50256 with a 300-token vocabulary) and such an id is simply never generated
        ModelConfig.Rope r = c.rope();
        if (r == null) {
            return;
        }
        if (r.type().equals("llama3") && !(r.highFreqFactor() > r.lowFreqFactor())) {
            throw new BadInputException(
                    file,
                    "rope 'high_freq_factor' (" + r.highFreqFactor() + ") must be greater than 'low_freq_factor' ("
                            + r.lowFreqFactor() + ")");
        }
        double[] inv = r.invFreq(c.headDim());
        for (int i = 0; i < inv.length; i++) {
            if (!Double.isFinite(inv[i]) || !(inv[i] > 0) || !Float.isFinite((float) inv[i]) || (float) inv[i] == 0f) {
                throw new BadInputException(
                        file,
                        "'rope_theta' " + r.theta() + " with factor " + r.factor() + " gives rotary frequency " + inv[i]
                                + " at index " + i + " (must be finite and > 0 in FP32)");
            }
        }
    }
}
