package bitnet.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * config.json of Qwen3, Gemma 3, Phi-3 and GPT-NeoX in both key styles (Hub / transformers 4.5x
 * and transformers 5), read to the same settings; the defaults of each HF config class.
 */
class FamilyConfigTest {
    static final ObjectMapper JSON = new ObjectMapper();
    static final Path NAME = Path.of("cfg/config.json");
    static final String SHAPE = """
            "hidden_size": 64, "intermediate_size": 96, "num_hidden_layers": 3, "num_attention_heads": 4,
            "num_key_value_heads": 2, "vocab_size": 300, "max_position_embeddings": 32""";

    static ModelConfig parse(String body) throws Exception {
        return ModelConfig.parse(NAME, JSON.readTree("{" + SHAPE + ", " + body + "}"));
    }

    static boolean[] windows(ModelConfig c) {
        boolean[] s = new boolean[c.numLayers()];
        for (int l = 0; l < s.length; l++) {
            s[l] = c.window(l) > 0;
        }
        return s;
    }

    @Test
    void qwen3BothStyles() throws Exception {
        ModelConfig old = parse("""
                "model_type": "qwen3", "head_dim": 32, "rope_theta": 1000000, "use_sliding_window": true,
                "sliding_window": 8, "max_window_layers": 1, "torch_dtype": "bfloat16\"""");
        ModelConfig v5 = parse("""
                "model_type": "qwen3", "head_dim": 32, "rope_parameters": {"rope_type": "default", "rope_theta": 1000000.0},
                "use_sliding_window": true, "sliding_window": 8,
                "layer_types": ["full_attention", "sliding_attention", "sliding_attention"], "dtype": "bfloat16\"""");
        for (ModelConfig c : List.of(old, v5)) {
            assertEquals(ModelConfig.Family.QWEN3, c.family());
            assertEquals(32, c.headDim());
            assertEquals(1e6, c.rope().theta());
            assertEquals("bfloat16", c.dtype());
            assertArrayEquals(new boolean[] {false, true, true}, windows(c));
            assertTrue(!c.qkvBias() && !c.oBias() && !c.tieWordEmbeddings());
        }
        // use_sliding_window defaults to false
        assertArrayEquals(new boolean[3], windows(parse("\"model_type\": \"qwen3\", \"sliding_window\": 8")));
    }

    @Test
    void gemma3BothStyles() throws Exception {
        ModelConfig old = parse("""
                "model_type": "gemma3_text", "head_dim": 32, "query_pre_attn_scalar": 24, "sliding_window": 4,
                "sliding_window_pattern": 2, "rope_theta": 1000000.0, "rope_local_base_freq": 10000.0, "pad_token_id": 0,
                "hidden_activation": "gelu_pytorch_tanh", "torch_dtype": "float32\"""");
        ModelConfig v5 = parse("""
                "model_type": "gemma3_text", "head_dim": 32, "query_pre_attn_scalar": 24, "sliding_window": 4,
                "_sliding_window_pattern": 6, "layer_types": ["sliding_attention", "full_attention", "sliding_attention"],
                "rope_parameters": {"full_attention": {"rope_type": "default", "rope_theta": 1000000.0},
                                    "sliding_attention": {"rope_type": "default", "rope_theta": 10000.0}}, "dtype": "float32\"""");
        for (ModelConfig c : List.of(old, v5)) {
            assertEquals(ModelConfig.Family.GEMMA3, c.family());
            assertArrayEquals(
                    new boolean[] {true, false, true}, windows(c), "layer_types wins over _sliding_window_pattern");
            assertEquals(4, c.window(0));
            assertEquals(1e6, c.rope().theta());
            assertEquals(1e4, c.extra().localRope().theta());
            assertEquals(24, c.extra().queryPreAttnScalar());
            assertEquals(0, c.extra().padTokenId());
            assertTrue(c.tieWordEmbeddings(), "Gemma3TextConfig ties by default");
            assertEquals(1e-6f, c.normEps());
        }
        // 4B+: linear scaling on the full layers only
        ModelConfig lin = parse("""
                "model_type": "gemma3_text", "rope_scaling": {"rope_type": "linear", "factor": 8.0}""");
        assertEquals("linear", lin.rope().type());
        assertEquals(8.0, lin.rope().factor());
        assertEquals("default", lin.extra().localRope().type());
        assertEquals(256, lin.headDim());
        assertArrayEquals(new boolean[] {true, true, true}, windows(lin), "pattern 6: layers 0-4 slide");
        ModelConfig capped = parse("\"model_type\": \"gemma3_text\", \"final_logit_softcapping\": 30.0");
        assertEquals(30.0, capped.extra().finalSoftcap());
        var e = assertThrows(
                BadInputException.class,
                () -> parse("\"model_type\": \"gemma3_text\", \"attn_logit_softcapping\": 50.0"));
        assertTrue(e.getMessage().contains("attn_logit_softcapping"), e.getMessage());
    }

    static final String SHORT = "[1.0, 1.05, 1.1, 1.2, 1.35, 1.5]";
    static final String LONG = "[1.0, 1.25, 1.75, 2.5, 4.0, 6.5]";

    @Test
    void phi3LongropeBothStylesAndAliases() throws Exception {
        ModelConfig old = parse(
                "\"model_type\": \"phi3\", \"original_max_position_embeddings\": 8, \"partial_rotary_factor\": 0.75,"
                        + " \"rope_theta\": 10000.0, \"rope_scaling\": {\"type\": \"longrope\", \"short_factor\": "
                        + SHORT + ", \"long_factor\": " + LONG + "}");
        ModelConfig v5 = parse(
                "\"model_type\": \"phi3\", \"rope_parameters\": {\"rope_type\": \"longrope\", \"rope_theta\": 10000.0,"
                        + " \"partial_rotary_factor\": 0.75, \"original_max_position_embeddings\": 8, \"short_factor\": "
                        + SHORT
                        + ", \"long_factor\": " + LONG + "}");
        ModelConfig su = parse(
                "\"model_type\": \"phi3\", \"original_max_position_embeddings\": 8, \"partial_rotary_factor\": 0.75,"
                        + " \"rope_scaling\": {\"type\": \"su\", \"short_factor\": " + SHORT + ", \"long_factor\": "
                        + LONG + "}");
        for (ModelConfig c : List.of(old, v5, su)) {
            assertEquals(ModelConfig.Family.PHI3, c.family());
            assertEquals("longrope", c.rope().type());
            assertEquals(16, c.headDim());
            assertEquals(12, c.rope().rotaryDim(16));
            assertEquals(8, c.rope().originalMaxPositions());
            assertEquals(List.of(1.0, 1.25, 1.75, 2.5, 4.0, 6.5), c.rope().longFactor());
            // sqrt(1 + ln(32/8) / ln 8)
            assertEquals(Math.sqrt(1 + Math.log(4) / Math.log(8)), c.rope().attentionFactor(), 1e-15);
        }
        var e = assertThrows(
                BadInputException.class,
                () -> parse("\"model_type\": \"phi3\", \"partial_rotary_factor\": 0.75,"
                        + " \"rope_scaling\": {\"type\": \"longrope\", \"short_factor\": [1.0], \"long_factor\": "
                        + LONG + "}"));
        assertTrue(e.getMessage().contains("short_factor' must be a list of 6"), e.getMessage());
        ModelConfig plain = parse("\"model_type\": \"phi3\"");
        assertEquals("default", plain.rope().type());
        assertEquals(16, plain.rope().rotaryDim(16));
        assertEquals(null, plain.slidingWindow());
    }

    @Test
    void gptNeoxBothStylesAndDefaults() throws Exception {
        ModelConfig old = parse("""
                "model_type": "gpt_neox", "rotary_pct": 0.5, "rotary_emb_base": 500, "rope_theta": 9999,
                "partial_rotary_factor": 0.25, "use_parallel_residual": false""");
        ModelConfig v5 = parse("""
                "model_type": "gpt_neox", "rope_parameters": {"rope_type": "default", "rope_theta": 500.0,
                "partial_rotary_factor": 0.5}, "use_parallel_residual": false""");
        for (ModelConfig c : List.of(old, v5)) {
            assertEquals(ModelConfig.Family.GPT_NEOX, c.family());
            assertEquals(500, c.rope().theta(), "rotary_emb_base, not the v4 rope_theta alias");
            assertEquals(8, c.rope().rotaryDim(16));
            assertTrue(!c.extra().parallelResidual());
        }
        ModelConfig d = parse("\"model_type\": \"gpt_neox\"");
        assertEquals(4, d.rope().rotaryDim(16), "rotary_pct defaults to 0.25");
        assertEquals(10000, d.rope().theta());
        assertTrue(d.extra().parallelResidual() && d.qkvBias() && d.oBias() && !d.tieWordEmbeddings());
        assertEquals(1e-5f, d.normEps());
        var e = assertThrows(
                BadInputException.class, () -> parse("\"model_type\": \"gpt_neox\", \"hidden_act\": \"relu\""));
        assertTrue(e.getMessage().contains("unsupported hidden_act 'relu'"), e.getMessage());
    }
}
