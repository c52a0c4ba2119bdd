package bitnet.engine.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** inspect names the family and what compress quantizes, keeps, fuses and ties; unknown model types exit 3 with the supported list. */
class InspectFamiliesTest {
    @TempDir
    Path tmp;

    static List<String> texts(JsonNode arr) {
        List<String> l = new ArrayList<>();
        arr.forEach(n -> l.add(n.asText()));
        return l;
    }

    static JsonNode inspect(String c) {
        return Cli.run("inspect", "--model", Cli.hfTiny(c).toString(), "--json")
                .ok()
                .json();
    }

    @Test
    void phi3FusedTensorsAreQuantizedWhole() {
        JsonNode j = inspect("phi3");
        assertEquals("phi3", j.get("family").asText());
        List<String> q = texts(j.get("quantized"));
        assertTrue(q.contains("model.layers.0.self_attn.qkv_proj.weight"), q.toString());
        assertTrue(q.contains("model.layers.1.mlp.gate_up_proj.weight"), q.toString());
        assertEquals(List.of("q", "k", "v"), texts(j.get("fused").get("model.layers.0.self_attn.qkv_proj.weight")));
        assertEquals(List.of("gate", "up"), texts(j.get("fused").get("model.layers.0.mlp.gate_up_proj.weight")));
        assertTrue(texts(j.get("preserved")).contains("lm_head.weight"));
        assertTrue(j.get("tied").isEmpty(), j.get("tied").toString());
        // 2 layers x (qkv, o, gate_up, down)
        assertEquals(8, q.size(), q.toString());
    }

    @Test
    void gptNeoxKeepsEmbedOutAndNormsAndTiesNothing() {
        JsonNode j = inspect("gpt_neox");
        assertEquals("gpt_neox", j.get("family").asText());
        List<String> p = texts(j.get("preserved"));
        assertTrue(
                p.contains("embed_out.weight")
                        && p.contains("gpt_neox.embed_in.weight")
                        && p.contains("gpt_neox.layers.0.attention.query_key_value.bias"),
                p.toString());
        assertTrue(texts(j.get("quantized")).contains("gpt_neox.layers.1.attention.query_key_value.weight"));
        assertTrue(j.get("tied").isEmpty());
    }

    @Test
    void gemma3TiesTheHeadToTheEmbedding() {
        JsonNode j = inspect("gemma3");
        assertEquals("gemma3", j.get("family").asText());
        assertEquals("model.embed_tokens.weight", j.get("tied").get("head").asText());
        assertTrue(texts(j.get("preserved")).contains("model.layers.0.self_attn.q_norm.weight"));
        Cli.Result table =
                Cli.run("inspect", "--model", Cli.hfTiny("gemma3").toString()).ok();
        assertTrue(
                table.out().contains("family gemma3") && table.out().contains("tied to model.embed_tokens.weight"),
                table.out());
    }

    @Test
    void qwen3IsItsOwnFamily() {
        JsonNode j = inspect("qwen3");
        assertEquals("qwen3", j.get("family").asText());
        assertEquals("llama", inspect("qwen2").get("family").asText());
    }

    @Test
    void unknownModelTypeExits3WithTheSupportedList() throws IOException {
        Path d = tmp.resolve("m");
        Cli.copyDir(Cli.hfTiny("qwen3"), d);
        ObjectNode c = (ObjectNode) Cli.readJson(d.resolve("config.json"));
        c.put("model_type", "falcon");
        Files.write(d.resolve("config.json"), Cli.JSON.writeValueAsBytes(c));
        Cli.Result r = Cli.run("inspect", "--model", d.toString()).badInput("config.json");
        assertTrue(
                r.errorLine()
                        .contains(
                                "unsupported model_type 'falcon' (supported: gpt2, llama, mistral, qwen2, qwen3, gemma3_text, phi3, gpt_neox)"),
                r.errorLine());
    }
}
