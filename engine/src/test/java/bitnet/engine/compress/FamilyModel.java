package bitnet.engine.compress;

import bitnet.engine.model.HfTensor;
import bitnet.engine.model.HfWriter;
import bitnet.engine.model.Model;
import bitnet.engine.model.Models;
import bitnet.engine.model.Param;
import bitnet.io.DType;
import bitnet.io.ModelConfig;
import bitnet.kernels.cpu.ScalarKernels;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Test helper (and a main for manual runs): writes a HF checkpoint of one of the newer families
 * (qwen3, gemma3, phi3, gpt_neox) with random F32 weights, named and shaped as HF saves them,
 * with the demo model's tokenizer (vocabulary 8192). Gemma 3's config uses transformers 5's keys
 * (layer_types, rope_parameters per layer type, dtype), the others the Hub's older keys; Phi-3
 * has longrope and partial rotary. {@code FamilyModel DIR FAMILY HIDDEN LAYERS INTERMEDIATE TOKENIZER_DIR}.
 */
public final class FamilyModel {
    private FamilyModel() {}

    public static void main(String[] a) throws IOException {
        Path dir = Path.of(a[0]);
        long n = write(
                dir, a[1], Integer.parseInt(a[2]), Integer.parseInt(a[3]), Integer.parseInt(a[4]), Path.of(a[5]), 1);
        System.out.printf(Locale.ROOT, "wrote %s: %s, %d parameters%n", dir, a[1], n);
    }

    static String config(String family, int h, int layers, int inter) {
        int heads = Math.max(2, h / 32);
        int hd = h / heads;
        String common = String.format(Locale.ROOT, """
                "hidden_size": %d, "intermediate_size": %d, "num_hidden_layers": %d, "num_attention_heads": %d,
                "vocab_size": 8192, "max_position_embeddings": 512, "bos_token_id": 0, "eos_token_id": 0""", h, inter, layers, heads);
        return switch (family) {
            case "qwen3" ->
                "{\"architectures\": [\"Qwen3ForCausalLM\"], \"model_type\": \"qwen3\", " + common
                        + ", \"num_key_value_heads\": " + heads / 2 + ", \"head_dim\": " + hd * 2
                        + ", \"rms_norm_eps\": 1e-6, \"rope_theta\": 1000000,"
                        + " \"tie_word_embeddings\": false, \"hidden_act\": \"silu\", \"torch_dtype\": \"float32\"}";
            case "gemma3" -> {
                StringBuilder types = new StringBuilder();
                for (int l = 0; l < layers; l++) {
                    types.append(l > 0 ? ", " : "")
                            .append((l + 1) % 2 == 0 ? "\"full_attention\"" : "\"sliding_attention\"");
                }
                yield "{\"architectures\": [\"Gemma3ForCausalLM\"], \"model_type\": \"gemma3_text\", " + common
                        + ", \"num_key_value_heads\": " + heads / 2 + ", \"head_dim\": " + hd
                        + ", \"query_pre_attn_scalar\": " + (hd * 3 / 4)
                        + ", \"rms_norm_eps\": 1e-6, \"sliding_window\": 32, \"layer_types\": [" + types + "],"
                        + " \"rope_parameters\": {\"full_attention\": {\"rope_type\": \"default\", \"rope_theta\": 1000000.0},"
                        + " \"sliding_attention\": {\"rope_type\": \"default\", \"rope_theta\": 10000.0}},"
                        + " \"hidden_activation\": \"gelu_pytorch_tanh\", \"pad_token_id\": 1, \"dtype\": \"float32\"}";
            }
            case "phi3" -> {
                int half = (int) (hd * 0.75) / 2;
                StringBuilder sf = new StringBuilder(), lf = new StringBuilder();
                for (int i = 0; i < half; i++) {
                    sf.append(i > 0 ? ", " : "").append(1 + 0.05 * i);
                    lf.append(i > 0 ? ", " : "").append(1 + 0.5 * i);
                }
                yield "{\"architectures\": [\"Phi3ForCausalLM\"], \"model_type\": \"phi3\", " + common
                        + ", \"num_key_value_heads\": " + heads / 2
                        + ", \"rms_norm_eps\": 1e-5, \"rope_theta\": 10000.0,"
                        + " \"partial_rotary_factor\": 0.75, \"original_max_position_embeddings\": 128,"
                        + " \"rope_scaling\": {\"type\": \"longrope\", \"short_factor\": [" + sf
                        + "], \"long_factor\": [" + lf + "]},"
                        + " \"sliding_window\": 512, \"pad_token_id\": 1, \"tie_word_embeddings\": false, \"hidden_act\": \"silu\","
                        + " \"torch_dtype\": \"float32\"}";
            }
            case "gpt_neox" ->
                "{\"architectures\": [\"GPTNeoXForCausalLM\"], \"model_type\": \"gpt_neox\", " + common
                        + ", \"rotary_pct\": 0.25, \"rotary_emb_base\": 10000, \"use_parallel_residual\": true, \"layer_norm_eps\": 1e-5,"
                        + " \"tie_word_embeddings\": false, \"hidden_act\": \"gelu\", \"attention_bias\": true, \"torch_dtype\": \"float32\"}";
            default -> throw new IllegalArgumentException("no generator for family " + family);
        };
    }

    /** Writes the model (F32) and the tokenizer files of tokenizerDir into dir; returns its parameter count. */
    public static long write(Path dir, String family, int hidden, int layers, int inter, Path tokenizerDir, long seed)
            throws IOException {
        Files.createDirectories(dir);
        var json = new ObjectMapper().readTree(config(family, hidden, layers, inter));
        ModelConfig cfg = ModelConfig.parse(dir.resolve("config.json"), json);
        SplittableRandom rnd = new SplittableRandom(seed);
        try (Model m = Models.create(cfg, new ScalarKernels())) {
            for (HfTensor t : m.tensors().values()) {
                float[] v = new float[Math.toIntExact(t.numel())];
                Param.Kind kind = t.parts().get(0).kind;
                // Gemma's norms multiply by (1 + w): centre them at 0 there, at 1 elsewhere
                float centre = kind == Param.Kind.NORM && cfg.family() != ModelConfig.Family.GEMMA3 ? 1f : 0f;
                float spread = kind == Param.Kind.NORM || kind == Param.Kind.BIAS ? 0.02f : 0.1f;
                for (int i = 0; i < v.length; i++) {
                    v[i] = centre + spread * (float) (rnd.nextDouble() - 0.5);
                }
                m.setHf(t, v);
            }
            HfWriter.write(m, tokenizerDir, dir, DType.F32, null, Map.of("format", "pt"));
            return m.parameterCount();
        }
    }
}
