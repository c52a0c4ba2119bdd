package bitnet.engine.export;

import bitnet.io.BadInputException;
import bitnet.io.gguf.GgufWriter;
import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * llama.cpp's names and conventions for each architecture, from HF tensor names and config.json
 * (as llama.cpp's convert_hf_to_gguf.py writes them): the GGUF architecture, its hyperparameter
 * keys, tensor names, and the tensor transforms its graph expects:
 * <ul>
 * <li>llama, mistral: q/k rows permuted per head (HF rotate-half to llama.cpp's interleaved RoPE);
 *     llama3 rope scaling as a rope_freqs tensor, linear as scaling keys.</li>
 * <li>qwen2, qwen3 (q/k norms), phi3 (fused qkv and gate|up kept fused, partial rotary, longrope
 *     factor tensors), gemma3 (norms stored as 1 + w, sqrt(head_dim / query_pre_attn_scalar)
 *     folded into attn_q_norm, per-layer sliding pattern, local RoPE base), gpt_neox (per-head
 *     interleaved qkv regrouped to q|k|v), gpt2 (Conv1D weights transposed).</li>
 * </ul>
 * A model type or tensor it does not know is a {@link BadInputException} naming it: an export
 * never silently drops a weight. It does not choose storage types (see {@link GgufExporter}).
 */
final class GgufArch {
    private static final Pattern LAYER =
            Pattern.compile("^(?:model\\.layers|gpt_neox\\.layers|transformer\\.h|h)\\.(\\d+)\\.(.+)$");
    static final List<String> SUPPORTED =
            List.of("llama", "mistral", "qwen2", "qwen3", "gemma3", "gemma3_text", "phi3", "gpt_neox", "gpt2");

    private final Path cfgFile;
    private final JsonNode cfg;
    private final String type;

    GgufArch(Path cfgFile, JsonNode cfg) {
        this.cfgFile = cfgFile;
        this.cfg = cfg;
        this.type = cfg.path("model_type").asText("");
        if (!SUPPORTED.contains(type)) {
            throw new BadInputException(
                    cfgFile,
                    "model_type '" + type + "' cannot be exported to GGUF (supported: " + String.join(", ", SUPPORTED)
                            + ")");
        }
    }

    /** The GGUF general.architecture. */
    String arch() {
        return switch (type) {
            case "mistral" -> "llama";
            case "gemma3_text" -> "gemma3";
            case "gpt_neox" -> "gptneox";
            default -> type;
        };
    }

    int vocabSize() {
        return req("vocab_size");
    }

    /** Writes the hyperparameters and returns the GGUF tensors (name to transformed source). */
    Map<String, SourceTensor> map(Map<String, SourceTensor> hf, GgufWriter w) {
        String a = arch();
        Map<String, SourceTensor> out = new LinkedHashMap<>();
        boolean gpt2 = type.equals("gpt2"), neox = type.equals("gpt_neox"), gemma = a.equals("gemma3");
        int c = gpt2 ? req("n_embd", "hidden_size") : req("hidden_size");
        int nh = gpt2 ? req("n_head", "num_attention_heads") : req("num_attention_heads");
        int nkv = cfg.hasNonNull("num_key_value_heads")
                ? cfg.get("num_key_value_heads").asInt()
                : nh;
        int hd = cfg.hasNonNull("head_dim") ? cfg.get("head_dim").asInt() : c / nh;
        int layers = gpt2 ? req("n_layer", "num_hidden_layers") : req("num_hidden_layers");
        w.putU32(a + ".context_length", gpt2 ? req("n_positions", "n_ctx") : opt("max_position_embeddings", 2048));
        w.putU32(a + ".embedding_length", c);
        w.putU32(a + ".block_count", layers);
        w.putU32(
                a + ".feed_forward_length",
                gpt2 ? (cfg.hasNonNull("n_inner") ? cfg.get("n_inner").asInt() : 4 * c) : req("intermediate_size"));
        w.putU32(a + ".attention.head_count", nh);
        w.putU32(a + ".vocab_size", vocabSize());
        if (gpt2 || neox) {
            w.putF32(a + ".attention.layer_norm_epsilon", (float)
                    dbl(gpt2 ? "layer_norm_epsilon" : "layer_norm_eps", 1e-5));
        } else {
            w.putU32(a + ".attention.head_count_kv", nkv);
            w.putF32(a + ".attention.layer_norm_rms_epsilon", (float) dbl("rms_norm_eps", 1e-6));
            w.putU32(a + ".attention.key_length", hd);
            w.putU32(a + ".attention.value_length", hd);
        }
        JsonNode rp = rope();
        double theta =
                rp.path("rope_theta").asDouble(dbl(neox ? "rotary_emb_base" : "rope_theta", gemma ? 1e6 : 10000));
        if (!gpt2) {
            w.putF32(a + ".rope.freq_base", (float) theta);
            double partial = neox
                    ? dbl("rotary_pct", rp.path("partial_rotary_factor").asDouble(0.25))
                    : dbl(
                            "partial_rotary_factor",
                            rp.path("partial_rotary_factor").asDouble(1.0));
            w.putU32(a + ".rope.dimension_count", (int) (hd * partial));
        }
        if (neox) {
            w.putBool(
                    a + ".use_parallel_residual",
                    cfg.path("use_parallel_residual").asBoolean(true));
        }
        String ropeType = rp.path("rope_type").asText(rp.path("type").asText("default"));
        switch (ropeType) {
            case "default" -> {}
            case "linear" -> {
                w.putString(a + ".rope.scaling.type", "linear");
                w.putF32(a + ".rope.scaling.factor", (float) rp.path("factor").asDouble(1));
            }
            case "llama3" ->
                out.put(
                        "rope_freqs.weight",
                        SourceTensor.Plain.ofFloats(new long[] {hd / 2}, llama3Factors(rp, theta, hd)));
            case "longrope", "su" -> {
                if (!type.equals("phi3")) {
                    throw unsupported("rope_type '" + ropeType + "' for " + type);
                }
                int orig = opt(
                        "original_max_position_embeddings",
                        rp.path("original_max_position_embeddings").asInt(4096));
                double scale = (double) opt("max_position_embeddings", 4096) / orig;
                double attn = scale > 1 ? Math.sqrt(1 + Math.log(scale) / Math.log(orig)) : 1.0;
                w.putF32(a + ".rope.scaling.attn_factor", (float) attn);
                w.putU32(a + ".rope.scaling.original_context_length", orig);
                out.put("rope_factors_long.weight", factors(rp, "long_factor"));
                out.put("rope_factors_short.weight", factors(rp, "short_factor"));
            }
            default -> throw unsupported("rope_type '" + ropeType + "'");
        }
        if (type.equals("phi3") && cfg.hasNonNull("sliding_window")) {
            w.putU32(a + ".attention.sliding_window", cfg.get("sliding_window").asInt());
        }
        if (gemma) {
            gemmaKeys(w, a, layers);
        }
        for (Map.Entry<String, SourceTensor> e : hf.entrySet()) {
            String n = e.getKey();
            SourceTensor t = e.getValue();
            if (n.endsWith(".rotary_emb.inv_freq")
                    || n.endsWith(".attn.bias")
                    || n.endsWith(".attn.masked_bias")
                    || n.endsWith(".attention.bias")
                    || n.endsWith(".attention.masked_bias")) {
                continue; // buffers HF recomputes; llama.cpp computes them itself
            }
            String g = name(n);
            if (g == null) {
                throw new BadInputException(
                        cfgFile.resolveSibling(n), "tensor '" + n + "' has no GGUF counterpart for " + type);
            }
            if (gpt2
                    && t.shape().length == 2
                    && n.matches(".*\\.(attn\\.c_attn|attn\\.c_proj|mlp\\.c_fc|mlp\\.c_proj)\\.weight$")) {
                t = transpose(t);
            }
            if ((type.equals("llama") || type.equals("mistral"))
                    && (g.endsWith("attn_q.weight") || g.endsWith("attn_q.bias"))) {
                t = t.permuteRows(ropePermutation(nh, t.rows() / nh));
            } else if ((type.equals("llama") || type.equals("mistral"))
                    && (g.endsWith("attn_k.weight") || g.endsWith("attn_k.bias"))) {
                t = t.permuteRows(ropePermutation(nkv, t.rows() / nkv));
            } else if (neox && g.contains("attn_qkv")) {
                t = t.permuteRows(neoxQkv(nh, c / nh));
            }
            if (gemma && g.endsWith("norm.weight")) {
                float[] v = t.floats();
                float mul = g.endsWith("attn_q_norm.weight")
                        ? (float) Math.sqrt(hd / dbl("query_pre_attn_scalar", hd))
                        : 1f;
                for (int i = 0; i < v.length; i++) {
                    v[i] = (1f + v[i]) * mul;
                }
                t = SourceTensor.Plain.ofFloats(t.shape(), v);
            }
            if (out.put(g, t) != null) {
                throw new BadInputException(cfgFile.resolveSibling(n), "two tensors map to GGUF '" + g + "'");
            }
        }
        if (gpt2 && !out.containsKey("output.weight") && out.containsKey("token_embd.weight")) {
            out.put(
                    "output.weight",
                    out.get("token_embd.weight")); // llama.cpp's gpt2 reads its head as a separate tensor
        }
        return out;
    }

    private void gemmaKeys(GgufWriter w, String a, int layers) {
        if (cfg.hasNonNull("attn_logit_softcapping")) {
            throw unsupported("attn_logit_softcapping (llama.cpp's gemma3 has none)");
        }
        if (cfg.hasNonNull("final_logit_softcapping")) {
            w.putF32(a + ".final_logit_softcapping", (float)
                    cfg.get("final_logit_softcapping").asDouble());
        }
        JsonNode rs = cfg.get("rope_scaling");
        if (rs != null && rs.isObject()) {
            throw unsupported("rope_scaling on gemma3");
        }
        if (cfg.hasNonNull("sliding_window")) {
            w.putU32(a + ".attention.sliding_window", cfg.get("sliding_window").asInt());
        }
        JsonNode rpl = cfg.path("rope_parameters").path("sliding_attention");
        double local = rpl.path("rope_theta").asDouble(dbl("rope_local_base_freq", 10000));
        w.putF32(a + ".rope.freq_base_swa", (float) local);
        List<Boolean> swa = new ArrayList<>();
        JsonNode lt = cfg.get("layer_types");
        int pattern = opt("sliding_window_pattern", opt("_sliding_window_pattern", 6));
        for (int i = 0; i < layers; i++) {
            swa.add(
                    lt != null && lt.isArray() && lt.size() == layers
                            ? lt.get(i).asText().equals("sliding_attention")
                            : (i + 1) % pattern != 0);
        }
        w.putArray(a + ".attention.sliding_window_pattern", GgufWriter.ValueType.BOOL, swa);
    }

    /** llama.cpp's name of an HF tensor, or null when it has none. */
    private String name(String n) {
        Matcher m = LAYER.matcher(n);
        if (m.matches()) {
            String rest = m.group(2);
            String g = layerName(rest);
            return g == null ? null : "blk." + m.group(1) + "." + g;
        }
        String base = n.replaceFirst("^(model|transformer|gpt_neox)\\.", "");
        return switch (base) {
            case "embed_tokens.weight", "wte.weight", "embed_in.weight" -> "token_embd.weight";
            case "wpe.weight" -> "position_embd.weight";
            case "norm.weight", "ln_f.weight", "final_layer_norm.weight" -> "output_norm.weight";
            case "ln_f.bias", "final_layer_norm.bias" -> "output_norm.bias";
            case "lm_head.weight", "embed_out.weight" -> "output.weight";
            default -> null;
        };
    }

    private String layerName(String rest) {
        int dot = rest.lastIndexOf('.');
        String mod = rest.substring(0, dot), kind = rest.substring(dot + 1);
        String g = switch (mod) {
            case "input_layernorm", "ln_1" -> "attn_norm";
            case "self_attn.q_proj" -> "attn_q";
            case "self_attn.k_proj" -> "attn_k";
            case "self_attn.v_proj" -> "attn_v";
            case "self_attn.o_proj", "attn.c_proj", "attention.dense" -> "attn_output";
            case "self_attn.qkv_proj", "attn.c_attn", "attention.query_key_value" -> "attn_qkv";
            case "self_attn.q_norm" -> "attn_q_norm";
            case "self_attn.k_norm" -> "attn_k_norm";
            case "post_attention_layernorm" -> arch().equals("gemma3") ? "post_attention_norm" : "ffn_norm";
            case "ln_2", "pre_feedforward_layernorm" -> "ffn_norm";
            case "post_feedforward_layernorm" -> "post_ffw_norm";
            case "mlp.gate_proj" -> "ffn_gate";
            case "mlp.up_proj", "mlp.gate_up_proj", "mlp.c_fc", "mlp.dense_h_to_4h" -> "ffn_up";
            case "mlp.down_proj", "mlp.c_proj", "mlp.dense_4h_to_h" -> "ffn_down";
            default -> null;
        };
        return g == null || !(kind.equals("weight") || kind.equals("bias")) ? null : g + "." + kind;
    }

    /** Row order llama.cpp's converter gives q/k of the Llama family: (head, half, i) to (head, i, half). */
    static int[] ropePermutation(int heads, int hd) {
        int[] perm = new int[heads * hd];
        for (int h = 0; h < heads; h++) {
            for (int i = 0; i < hd / 2; i++) {
                for (int s = 0; s < 2; s++) {
                    perm[h * hd + 2 * i + s] = h * hd + s * (hd / 2) + i;
                }
            }
        }
        return perm;
    }

    /** GPT-NeoX's per-head [q,k,v] rows regrouped to [q all heads | k | v]. */
    static int[] neoxQkv(int heads, int hd) {
        int[] perm = new int[3 * heads * hd];
        int r = 0;
        for (int p = 0; p < 3; p++) {
            for (int h = 0; h < heads; h++) {
                for (int d = 0; d < hd; d++) {
                    perm[r++] = h * 3 * hd + p * hd + d;
                }
            }
        }
        return perm;
    }

    private static SourceTensor transpose(SourceTensor t) {
        int r = t.rows(), c = t.cols();
        float[] v = t.floats(), o = new float[v.length];
        for (int i = 0; i < r; i++) {
            for (int j = 0; j < c; j++) {
                o[j * r + i] = v[i * c + j];
            }
        }
        return SourceTensor.Plain.ofFloats(new long[] {c, r}, o);
    }

    /** llama.cpp's rope_freqs for HF's llama3 scaling: the divisor of each frequency. */
    private static float[] llama3Factors(JsonNode rp, double theta, int hd) {
        double factor = rp.path("factor").asDouble(8),
                lo = rp.path("low_freq_factor").asDouble(1),
                hi = rp.path("high_freq_factor").asDouble(4);
        int orig = rp.path("original_max_position_embeddings").asInt(8192);
        double loWl = orig / lo, hiWl = orig / hi;
        float[] f = new float[hd / 2];
        for (int i = 0; i < f.length; i++) {
            double freq = 1.0 / Math.pow(theta, (2.0 * i) / hd);
            double wl = 2 * Math.PI / freq;
            if (wl < hiWl) {
                f[i] = 1f;
            } else if (wl > loWl) {
                f[i] = (float) factor;
            } else {
                double smooth = (orig / wl - lo) / (hi - lo);
                f[i] = (float) (1 / ((1 - smooth) / factor + smooth));
            }
        }
        return f;
    }

    private SourceTensor factors(JsonNode rp, String key) {
        JsonNode a = rp.get(key);
        if (a == null || !a.isArray()) {
            throw unsupported("longrope without '" + key + "'");
        }
        float[] v = new float[a.size()];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) a.get(i).asDouble();
        }
        return SourceTensor.Plain.ofFloats(new long[] {v.length}, v);
    }

    /** rope_parameters (transformers 5; for gemma3 the full-attention entry) or rope_scaling, else {}. */
    private JsonNode rope() {
        JsonNode p = cfg.get("rope_parameters");
        if (p != null && p.isObject() && p.has("full_attention")) {
            p = p.get("full_attention");
        }
        if (p == null || !p.isObject()) {
            p = cfg.get("rope_scaling");
        }
        return p != null && p.isObject()
                ? p
                : com.fasterxml.jackson.databind.node.JsonNodeFactory.instance.objectNode();
    }

    private BadInputException unsupported(String what) {
        return new BadInputException(cfgFile, what + " cannot be exported to GGUF");
    }

    private int req(String... keys) {
        for (String k : keys) {
            if (cfg.hasNonNull(k) && cfg.get(k).canConvertToInt() && cfg.get(k).asInt() > 0) {
                return cfg.get(k).asInt();
            }
        }
        throw new BadInputException(cfgFile, "missing or invalid '" + keys[0] + "'");
    }

    private int opt(String key, int def) {
        return cfg.hasNonNull(key) ? cfg.get(key).asInt() : def;
    }

    private double dbl(String key, double def) {
        return cfg.hasNonNull(key) ? cfg.get(key).asDouble() : def;
    }
}
