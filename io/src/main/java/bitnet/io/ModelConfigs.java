package bitnet.io;

import static bitnet.io.ModelConfig.bool;
import static bitnet.io.ModelConfig.dbl;
import static bitnet.io.ModelConfig.intOrNull;
import static bitnet.io.ModelConfig.req;
import static bitnet.io.ModelConfig.text;

import bitnet.io.ModelConfig.Extra;
import bitnet.io.ModelConfig.Family;
import bitnet.io.ModelConfig.Rope;
import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.IntPredicate;

/**
 * config.json readers of the newer families (Gemma 3, Phi-3, GPT-NeoX), each following its HF
 * configuration class in both key styles: Hub / transformers 4.5x and transformers 5
 * ({@code rope_parameters}, {@code layer_types}). Defaults are the HF classes' own.
 */
final class ModelConfigs {
    private ModelConfigs() {}

    /**
     * Sliding layers from {@code layer_types} ("sliding_attention" / "full_attention") when present, else
     * from the family's rule.
     */
    static boolean[] layerTypes(Path file, JsonNode n, int layers, IntPredicate rule) {
        boolean[] s = new boolean[layers];
        JsonNode lt = n.get("layer_types");
        if (lt != null && lt.isArray()) {
            if (lt.size() != layers) {
                throw new BadInputException(
                        file, "'layer_types' has " + lt.size() + " entries for " + layers + " layers");
            }
            for (int i = 0; i < layers; i++) {
                String t = lt.get(i).asText();
                if (!t.equals("sliding_attention") && !t.equals("full_attention")) {
                    throw new BadInputException(
                            file, "unsupported layer type '" + t + "' (supported: full_attention, sliding_attention)");
                }
                s[i] = t.equals("sliding_attention");
            }
            return s;
        }
        for (int i = 0; i < layers; i++) {
            s[i] = rule.test(i);
        }
        return s;
    }

    /** Gemma3TextConfig (model_type gemma3_text: Gemma 3 270M and 1B, the text part of the larger ones). */
    static ModelConfig gemma3(Path file, JsonNode n, String arch, String dtype, Integer bos, Integer eos) {
        int c = req(file, n, "hidden_size");
        int nh = req(file, n, "num_attention_heads");
        int nkv = n.hasNonNull("num_key_value_heads") ? req(file, n, "num_key_value_heads") : nh;
        int hd = n.hasNonNull("head_dim") ? req(file, n, "head_dim") : 256;
        checkAttention(file, nh, nkv, hd);
        int layers = req(file, n, "num_hidden_layers");
        String act = text(n, "hidden_activation", text(n, "hidden_act", "gelu_pytorch_tanh"));
        if (!act.equals("gelu_pytorch_tanh")) {
            throw new BadInputException(
                    file, "unsupported hidden_activation '" + act + "' (supported: gelu_pytorch_tanh)");
        }
        int pattern = n.hasNonNull("sliding_window_pattern")
                ? n.get("sliding_window_pattern").asInt()
                : n.path("_sliding_window_pattern").asInt(6);
        boolean[] sliding = layerTypes(file, n, layers, i -> pattern > 0 && (i + 1) % pattern != 0);
        // Rope: full layers rope_theta (+ rope_scaling, linear on 4B+), sliding layers rope_local_base_freq;
        // transformers 5 puts both under rope_parameters.{full_attention, sliding_attention}.
        JsonNode rp = n.get("rope_parameters");
        JsonNode full = rp != null && rp.has("full_attention") ? rp.get("full_attention") : n.get("rope_scaling");
        Rope global = scaledRope(file, full, dbl(n, "rope_theta", 1_000_000.0));
        Rope local = rp != null && rp.has("sliding_attention")
                ? scaledRope(file, rp.get("sliding_attention"), dbl(n, "rope_local_base_freq", 10_000.0))
                : new Rope("default", dbl(n, "rope_local_base_freq", 10_000.0), 1, 1, 4, 8192);
        if (dbl(n, "attn_logit_softcapping", 0) != 0) {
            // every released Gemma 3 sets it to null; capping inside the attention kernels is not built
            throw new BadInputException(file, "attn_logit_softcapping is not supported (final_logit_softcapping is)");
        }
        Integer window = n.hasNonNull("sliding_window") ? req(file, n, "sliding_window") : 4096;
        Extra extra = new Extra(
                n.has("pad_token_id") ? intOrNull(n, "pad_token_id") : Integer.valueOf(0),
                sliding,
                local,
                dbl(n, "query_pre_attn_scalar", 256),
                dbl(n, "attn_logit_softcapping", 0),
                dbl(n, "final_logit_softcapping", 0),
                false);
        return new ModelConfig(
                Family.GEMMA3,
                "gemma3_text",
                arch,
                req(file, n, "vocab_size"),
                c,
                layers,
                nh,
                nkv,
                hd,
                req(file, n, "intermediate_size"),
                n.path("max_position_embeddings").asInt(131072),
                (float) dbl(n, "rms_norm_eps", 1e-6),
                bool(n, "tie_word_embeddings", true),
                bool(n, "attention_bias", false),
                bool(n, "attention_bias", false),
                false,
                act,
                global,
                window,
                dtype,
                bos,
                eos,
                n,
                extra);
    }

    /** A default or linear rope dict (rope_type / type, rope_theta, factor); null means default. */
    private static Rope scaledRope(Path file, JsonNode p, double theta) {
        if (p == null || !p.isObject()) {
            return new Rope("default", theta, 1, 1, 4, 8192);
        }
        String type = text(p, "rope_type", text(p, "type", "default"));
        if (!type.equals("default") && !type.equals("linear")) {
            throw new BadInputException(file, "unsupported rope_type '" + type + "' (supported: default, linear)");
        }
        return new Rope(type, dbl(p, "rope_theta", theta), dbl(p, "factor", 1), 1, 4, 8192);
    }

    /** Phi3Config (Phi-3, Phi-3.5, Phi-4-mini): fused projections, partial rotary, longrope. */
    static ModelConfig phi3(Path file, JsonNode n, String arch, String dtype, Integer bos, Integer eos) {
        int c = req(file, n, "hidden_size");
        int nh = req(file, n, "num_attention_heads");
        int nkv = n.hasNonNull("num_key_value_heads") ? req(file, n, "num_key_value_heads") : nh;
        ModelConfig.checkHeads(file, c, nh, nkv);
        int hd = c / nh; // Phi3Config has no head_dim
        checkAttention(file, nh, nkv, hd);
        String act = text(n, "hidden_act", "silu");
        if (!act.equals("silu")) {
            throw new BadInputException(file, "unsupported hidden_act '" + act + "' (supported: silu)");
        }
        int maxPos = n.path("max_position_embeddings").asInt(4096);
        JsonNode rp = n.get("rope_parameters");
        if (rp == null || !rp.isObject()) {
            rp = n.get("rope_scaling");
        }
        boolean hasDict = rp != null && rp.isObject();
        double theta = dbl(n, "rope_theta", hasDict ? dbl(rp, "rope_theta", 10000.0) : 10000.0);
        double partial = dbl(n, "partial_rotary_factor", hasDict ? dbl(rp, "partial_rotary_factor", 1.0) : 1.0);
        int rd = (int) (hd * partial);
        if (rd <= 0 || rd % 2 != 0 || rd > hd) {
            throw new BadInputException(
                    file, "partial_rotary_factor " + partial + " gives " + rd + " rotated dims of " + hd);
        }
        Rope rope = new Rope("default", theta, 1, 1, 4, maxPos, partial, null, null, 1.0);
        if (hasDict) {
            String type = text(rp, "rope_type", text(rp, "type", "default"));
            if (type.equals("su") || type.equals("yarn")) {
                type = "longrope"; // Phi3Config.convert_rope_params_to_dict
            }
            if (type.equals("longrope")) {
                // the top-level original_max_position_embeddings wins over the dict's (standardize_rope_params)
                int orig = n.hasNonNull("original_max_position_embeddings")
                        ? req(file, n, "original_max_position_embeddings")
                        : rp.hasNonNull("original_max_position_embeddings")
                                ? rp.get("original_max_position_embeddings").asInt()
                                : maxPos;
                double f = rp.hasNonNull("factor") ? rp.get("factor").asDouble() : (double) maxPos / orig;
                double att = rp.hasNonNull("attention_factor")
                        ? rp.get("attention_factor").asDouble()
                        : f <= 1 ? 1.0 : Math.sqrt(1 + Math.log(f) / Math.log(orig));
                rope = new Rope(
                        "longrope",
                        theta,
                        f,
                        1,
                        4,
                        orig,
                        partial,
                        factors(file, rp, "short_factor", rd / 2),
                        factors(file, rp, "long_factor", rd / 2),
                        att);
            } else if (!type.equals("default")) {
                throw new BadInputException(
                        file, "unsupported rope_type '" + type + "' (supported: default, longrope)");
            }
        }
        Integer window = n.hasNonNull("sliding_window") ? req(file, n, "sliding_window") : null;
        Extra extra = new Extra(intOrNull(n, "pad_token_id"), null, null, 0, 0, 0, false);
        return new ModelConfig(
                Family.PHI3,
                "phi3",
                arch,
                req(file, n, "vocab_size"),
                c,
                req(file, n, "num_hidden_layers"),
                nh,
                nkv,
                hd,
                req(file, n, "intermediate_size"),
                maxPos,
                (float) dbl(n, "rms_norm_eps", 1e-5),
                bool(n, "tie_word_embeddings", false),
                false,
                false,
                false,
                act,
                rope,
                window,
                dtype,
                bos,
                eos,
                n,
                extra);
    }

    private static List<Double> factors(Path file, JsonNode rp, String key, int want) {
        JsonNode a = rp.get(key);
        if (a == null || !a.isArray() || a.size() != want) {
            throw new BadInputException(
                    file, "longrope '" + key + "' must be a list of " + want + " numbers (rotary dim / 2)");
        }
        List<Double> out = new ArrayList<>();
        for (JsonNode v : a) {
            if (!v.isNumber() || !(v.asDouble() > 0)) {
                throw new BadInputException(file, "longrope '" + key + "' holds " + v + ", not a positive number");
            }
            out.add(v.asDouble());
        }
        return out;
    }

    /** GPTNeoXConfig (Pythia): rotary_pct defaults to 0.25, rotary_emb_base to 10000; v4's top-level rope_theta is ignored. */
    static ModelConfig gptNeox(Path file, JsonNode n, String arch, String dtype, Integer bos, Integer eos) {
        int c = req(file, n, "hidden_size");
        int nh = req(file, n, "num_attention_heads");
        ModelConfig.checkHeads(file, c, nh, nh);
        int hd = c / nh;
        String act = text(n, "hidden_act", "gelu");
        if (!act.equals("gelu")) {
            throw new BadInputException(file, "unsupported hidden_act '" + act + "' (supported: gelu)");
        }
        JsonNode rp = n.get("rope_parameters");
        boolean v5 = rp != null && rp.isObject();
        double partial = n.hasNonNull("rotary_pct")
                ? n.get("rotary_pct").asDouble()
                : v5 ? dbl(rp, "partial_rotary_factor", 0.25) : 0.25;
        double theta = n.hasNonNull("rotary_emb_base")
                ? n.get("rotary_emb_base").asDouble()
                : v5 ? dbl(rp, "rope_theta", 10000.0) : 10000.0;
        JsonNode sc = v5 ? rp : n.get("rope_scaling");
        String type = sc != null && sc.isObject() ? text(sc, "rope_type", text(sc, "type", "default")) : "default";
        if (!type.equals("default") && !type.equals("linear")) {
            throw new BadInputException(file, "unsupported rope_type '" + type + "' (supported: default, linear)");
        }
        double factor = sc != null && sc.isObject() ? dbl(sc, "factor", 1) : 1;
        int rd = (int) (hd * partial);
        if (rd <= 0 || rd % 2 != 0 || rd > hd) {
            throw new BadInputException(file, "rotary_pct " + partial + " gives " + rd + " rotated dims of " + hd);
        }
        int maxPos = n.path("max_position_embeddings").asInt(2048);
        Rope rope = new Rope(type, theta, factor, 1, 4, maxPos, partial, null, null, 1.0);
        Extra extra = new Extra(null, null, null, 0, 0, 0, bool(n, "use_parallel_residual", true));
        boolean bias = bool(n, "attention_bias", true);
        return new ModelConfig(
                Family.GPT_NEOX,
                "gpt_neox",
                arch,
                req(file, n, "vocab_size"),
                c,
                req(file, n, "num_hidden_layers"),
                nh,
                nh,
                hd,
                req(file, n, "intermediate_size"),
                maxPos,
                (float) dbl(n, "layer_norm_eps", 1e-5),
                bool(n, "tie_word_embeddings", false),
                bias,
                bias,
                true,
                act,
                rope,
                null,
                dtype,
                bos,
                eos,
                n,
                extra);
    }

    private static void checkAttention(Path file, int nh, int nkv, int hd) {
        if (nh <= 0 || nkv <= 0 || nh % nkv != 0 || hd <= 0 || hd % 2 != 0) {
            throw new BadInputException(
                    file, "bad attention shape: heads " + nh + ", kv heads " + nkv + ", head_dim " + hd);
        }
    }
}
