package bitnet.engine.model;

import static org.junit.jupiter.api.Assertions.assertTrue;

import bitnet.engine.TestData;
import bitnet.io.Checkpoint;
import bitnet.io.SafetensorsFile;
import bitnet.kernels.cpu.ScalarKernels;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The new hf-tiny cases with their config.json rewritten in transformers 5's key style
 * (rope_parameters, per layer type for Gemma 3; layer_types; dtype) give the same logits.
 */
class V5ConfigParityTest {
    static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;

    /** The v5 spelling of a Hub (4.5x) config of these families. */
    static ObjectNode toV5(ObjectNode c) {
        c.set("dtype", c.remove("torch_dtype"));
        ObjectNode rp = JSON.createObjectNode();
        switch (c.get("model_type").asText()) {
            case "gemma3_text" -> {
                int pattern = c.remove("sliding_window_pattern").asInt();
                var types = c.putArray("layer_types");
                for (int i = 0; i < c.get("num_hidden_layers").asInt(); i++) {
                    types.add((i + 1) % pattern != 0 ? "sliding_attention" : "full_attention");
                }
                c.put("_sliding_window_pattern", 6); // v5 carries it even when layer_types says otherwise
                rp.putObject("full_attention")
                        .put("rope_type", "default")
                        .put("rope_theta", c.remove("rope_theta").asDouble());
                rp.putObject("sliding_attention")
                        .put("rope_type", "default")
                        .put("rope_theta", c.remove("rope_local_base_freq").asDouble());
                c.remove("rope_scaling");
            }
            case "phi3" -> {
                rp.put("rope_theta", c.remove("rope_theta").asDouble());
                rp.put(
                        "partial_rotary_factor",
                        c.remove("partial_rotary_factor").asDouble());
                var sc = c.remove("rope_scaling");
                if (sc != null && sc.isObject()) {
                    rp.put("rope_type", sc.get("type").asText());
                    rp.set("short_factor", sc.get("short_factor"));
                    rp.set("long_factor", sc.get("long_factor"));
                    rp.put(
                            "original_max_position_embeddings",
                            c.get("original_max_position_embeddings").asInt());
                } else {
                    rp.put("rope_type", "default");
                }
            }
            case "gpt_neox" -> {
                rp.put("rope_type", "default");
                rp.put("rope_theta", c.remove("rotary_emb_base").asDouble());
                rp.put("partial_rotary_factor", c.remove("rotary_pct").asDouble());
                c.remove("rope_theta");
                c.remove("partial_rotary_factor");
                c.remove("rope_scaling");
            }
            default -> {
                rp.put("rope_type", "default");
                rp.put("rope_theta", c.remove("rope_theta").asDouble());
                c.remove("rope_scaling");
                var types = c.putArray("layer_types");
                for (int i = 0; i < c.get("num_hidden_layers").asInt(); i++) {
                    types.add("full_attention");
                }
            }
        }
        c.set("rope_parameters", rp);
        return c;
    }

    @ParameterizedTest
    @ValueSource(strings = {"qwen3", "gemma3", "phi3", "phi3-longrope", "gpt_neox", "gpt_neox-seq"})
    void sameLogitsFromTheV5Config(String c) throws IOException {
        Path src = TestData.hfTiny(c);
        Path dir = tmp.resolve(c);
        Files.createDirectories(dir);
        Files.copy(src.resolve("model.safetensors"), dir.resolve("model.safetensors"));
        ObjectNode cfg =
                toV5((ObjectNode) JSON.readTree(src.resolve("config.json").toFile()));
        Files.writeString(dir.resolve("config.json"), JSON.writeValueAsString(cfg));
        try (Arena arena = Arena.ofConfined()) {
            SafetensorsFile refs = SafetensorsFile.open(src.resolve("refs.safetensors"), arena);
            int[] ids = ForwardParityTest.ids(refs);
            long[] shape = refs.get("input_ids").shape();
            try (Model m = Models.load(Checkpoint.open(dir, arena), new ScalarKernels(), Model.Mode.INFER)) {
                float[] logits = m.k.download(m.forward(ids, (int) shape[0], (int) shape[1], null));
                float d = ForwardParityTest.maxAbs(refs.get("logits").toFloatArray(), logits);
                assertTrue(d < 1e-4, c + " with " + cfg + ": logits differ by " + d);
            }
        }
    }
}
