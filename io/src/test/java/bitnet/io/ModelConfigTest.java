package bitnet.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** config.json: the fixtures, both spellings of dtype and rope settings, and bad configs. */
class ModelConfigTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Path NAME = Path.of("cfg/config.json");

    @TempDir
    Path tmp;

    static Path fixture(String rel) throws Exception {
        return Path.of(ModelConfigTest.class.getResource("/fixtures/" + rel).toURI());
    }

    static ObjectNode llama() throws Exception {
        return (ObjectNode) JSON.readTree("""
                {"model_type": "llama", "hidden_size": 64, "num_attention_heads": 8, "num_key_value_heads": 2,
                 "num_hidden_layers": 2, "intermediate_size": 96, "vocab_size": 300, "rms_norm_eps": 1e-05}""");
    }

    static void assertBad(ObjectNode n, String problem) {
        BadInputException e = assertThrows(BadInputException.class, () -> ModelConfig.parse(NAME, n));
        assertTrue(e.getMessage().startsWith(NAME + ": "), e.getMessage());
        assertTrue(e.getMessage().contains(problem), () -> "'" + e.getMessage() + "' lacks '" + problem + "'");
    }

    @Test
    void gpt2Keys() throws Exception {
        ModelConfig c = ModelConfig.load(fixture("gpt2/config.json"));
        assertEquals(ModelConfig.Family.GPT2, c.family());
        assertEquals("GPT2LMHeadModel", c.architecture());
        assertEquals(48, c.hiddenSize());
        assertEquals(4, c.numHeads());
        assertEquals(4, c.numKvHeads());
        assertEquals(12, c.headDim());
        assertEquals(2, c.numLayers());
        assertEquals(192, c.intermediateSize(), "n_inner null -> 4 * n_embd");
        assertEquals(64, c.maxPositions());
        assertEquals(300, c.vocabSize());
        assertEquals(1e-5f, c.normEps());
        assertTrue(c.tieWordEmbeddings());
        assertEquals("gelu_new", c.hiddenAct());
        assertEquals("float32", c.dtype());
        assertEquals(50256, c.eosTokenId());
        assertNull(c.rope());
        ObjectNode n = (ObjectNode) JSON.readTree(Files.readString(fixture("gpt2/config.json")));
        n.remove("n_embd");
        assertBad(n, "missing 'n_embd' (or 'hidden_size')");
        n.put("hidden_size", 48);
        assertEquals(48, ModelConfig.parse(NAME, n).hiddenSize(), "HF's attribute alias is accepted");
        n.put("n_head", 5);
        assertBad(n, "not divisible by 5 heads");
    }

    @Test
    void oldAndNewSpellingsAgree() throws Exception {
        ModelConfig fixture = ModelConfig.load(fixture("llama3rope-bf16-sharded/config.json"));
        assertEquals("bfloat16", fixture.dtype());
        assertEquals(new ModelConfig.Rope("llama3", 500000.0, 8.0, 1.0, 4.0, 16), fixture.rope());
        assertEquals(8, fixture.headDim());
        assertEquals(4, fixture.groups());

        ObjectNode oldStyle = llama();
        oldStyle.put("torch_dtype", "bfloat16");
        oldStyle.put("rope_theta", 500000.0);
        oldStyle.set("rope_scaling", JSON.readTree("""
                {"type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                 "original_max_position_embeddings": 16}"""));
        ObjectNode newStyle = llama();
        newStyle.put("dtype", "bfloat16");
        newStyle.set("rope_parameters", JSON.readTree("""
                {"rope_type": "llama3", "rope_theta": 500000.0, "factor": 8.0, "low_freq_factor": 1.0,
                 "high_freq_factor": 4.0, "original_max_position_embeddings": 16}"""));
        ModelConfig a = ModelConfig.parse(NAME, oldStyle);
        ModelConfig b = ModelConfig.parse(NAME, newStyle);
        assertEquals(a.rope(), b.rope());
        assertEquals(fixture.rope(), b.rope());
        assertEquals("bfloat16", a.dtype());
        assertEquals("bfloat16", b.dtype());
        assertArrayEquals(a.rope().invFreq(8), b.rope().invFreq(8));

        // New spelling wins where both are present; plain default rope keeps rope_theta.
        ObjectNode both = llama();
        both.put("torch_dtype", "float16");
        both.put("dtype", "float32");
        both.put("rope_theta", 1234.0);
        ModelConfig d = ModelConfig.parse(NAME, both);
        assertEquals("float32", d.dtype());
        assertEquals(new ModelConfig.Rope("default", 1234.0, 1, 1, 4, 8192), d.rope());
        // HF's default inverse frequencies: theta^(-2i/d).
        double[] inv = d.rope().invFreq(8);
        for (int i = 0; i < 4; i++) {
            assertEquals(Math.pow(1234.0, -2.0 * i / 8), inv[i], 1e-15);
        }
    }

    @Test
    void badConfigs() throws Exception {
        ObjectNode n = llama();
        n.remove("hidden_size");
        assertBad(n, "missing 'hidden_size'");
        ObjectNode bert = llama();
        bert.put("model_type", "bert");
        assertBad(
                bert,
                "unsupported model_type 'bert' (supported: gpt2, llama, mistral, qwen2, qwen3, gemma3_text, phi3, gpt_neox)");
        ObjectNode noType = llama();
        noType.remove("model_type");
        assertBad(noType, "missing 'model_type'");
        ObjectNode zero = llama();
        zero.put("num_hidden_layers", 0);
        assertBad(zero, "'num_hidden_layers' must be an integer in [1, ");
        ObjectNode kv = llama();
        kv.put("num_key_value_heads", 3);
        assertBad(kv, "bad attention shape");
        ObjectNode act = llama();
        act.put("hidden_act", "gelu");
        assertBad(act, "unsupported hidden_act 'gelu'");
        ObjectNode rope = llama();
        rope.set("rope_scaling", JSON.readTree("{\"type\": \"yarn\", \"factor\": 4}"));
        assertBad(rope, "unsupported rope_type 'yarn' (supported: default, linear, llama3)");
        Path notJson = tmp.resolve("config.json");
        Files.writeString(notJson, "{\"model_type\": ");
        BadInputException e = assertThrows(BadInputException.class, () -> ModelConfig.load(notJson));
        assertTrue(e.getMessage().startsWith(notJson + ": not valid JSON"), e.getMessage());
        BadInputException missing =
                assertThrows(BadInputException.class, () -> ModelConfig.load(tmp.resolve("none.json")));
        assertTrue(missing.getMessage().contains("file not found"));
    }
}
