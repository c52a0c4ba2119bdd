package bitnet.engine.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import bitnet.io.Checks.Range;
import bitnet.io.ModelConfigRules;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Property test of config.json: every key the engine reads ({@link ModelConfigRules}) gets
 * generated bad values (NaN, ±Inf, 0, negative, huge, fractional, wrong type, wrong shape); each
 * must give exit 3 with one line naming config.json and the key, and write nothing. Also the
 * issue's examples (rope_theta 0, factor 0, rms_norm_eps -1 / "tiny", hidden_size 48.5,
 * tie_word_embeddings "yes", trailing garbage) and consistency with the tensors.
 */
class ConfigPropertyTest {
    private static final JsonNodeFactory F = JsonNodeFactory.instance;

    @TempDir
    Path tmp;

    /** Bad values for a rule, each with what it is (for the failure message). */
    static Map<String, JsonNode> badValues(ModelConfigRules.Rule rule) {
        Map<String, JsonNode> v = new java.util.LinkedHashMap<>();
        if (!(rule instanceof ModelConfigRules.Obj)) {
            v.put("object", F.objectNode().put("x", 1));
        }
        v.put("list", F.arrayNode().add("x").add(F.objectNode()));
        switch (rule) {
            case ModelConfigRules.Num n -> {
                Range r = n.range();
                v.put("string NaN", F.textNode("NaN"));
                v.put("string number", F.textNode("1e-5"));
                v.put("word", F.textNode("tiny"));
                v.put("boolean", F.booleanNode(true));
                v.put("+Inf (1e999)", F.numberNode(new java.math.BigDecimal("1e999")));
                v.put("-Inf (-1e999)", F.numberNode(new java.math.BigDecimal("-1e999")));
                if (r.min() > -1) {
                    v.put("negative", F.numberNode(-1));
                } else {
                    v.put("below min", F.numberNode(r.min() - 1));
                }
                if (r.min() > 0 || !r.minInclusive()) {
                    v.put("zero", F.numberNode(0));
                }
                if (r.integer()) {
                    v.put("fraction", F.numberNode(48.5));
                    v.put("huge", F.numberNode(Math.max(1L << 40, (long) r.max() + 1)));
                } else if (r.max() < Double.MAX_VALUE) {
                    v.put("above max", F.numberNode(r.max() + 1));
                }
            }
            case ModelConfigRules.Bool b -> {
                v.put("yes", F.textNode("yes"));
                v.put("string true", F.textNode("true"));
                v.put("one", F.numberNode(1));
            }
            case ModelConfigRules.Text t -> v.put("number", F.numberNode(3));
            case ModelConfigRules.TextList t -> {
                v.put("string", F.textNode("LlamaForCausalLM"));
                v.remove("list");
                v.put("list of numbers", F.arrayNode().add(1));
            }
            case ModelConfigRules.IdOrIds t -> {
                v.put("negative", F.numberNode(-1));
                v.put("string", F.textNode("2"));
                v.put("fraction", F.numberNode(1.5));
                v.put("list with NaN string", F.arrayNode().add(1).add("NaN"));
            }
            case ModelConfigRules.Obj o -> v.put("number", F.numberNode(1));
        }
        return v;
    }

    private Path modelWith(String base, java.util.function.Consumer<ObjectNode> edit) throws IOException {
        Path d = Files.createTempDirectory(tmp, "m");
        Path src = Cli.hfTiny(base);
        for (String f : new String[] {"model.safetensors", "generation_config.json"}) {
            if (Files.exists(src.resolve(f))) {
                Files.createSymbolicLink(d.resolve(f), src.resolve(f).toAbsolutePath());
            }
        }
        ObjectNode cfg = (ObjectNode) Cli.readJson(src.resolve("config.json"));
        edit.accept(cfg);
        Files.writeString(d.resolve("config.json"), cfg.toString());
        return d;
    }

    /** The bulk of the sweep: ModelConfig.load directly (what every command calls first). */
    private void expectRefusedByLoad(Path model, String key, String what) {
        String ctx = key + " = " + what;
        Path cfg = model.resolve("config.json");
        var e = org.junit.jupiter.api.Assertions.assertThrows(
                bitnet.io.BadInputException.class, () -> bitnet.io.ModelConfig.load(cfg), ctx);
        assertTrue(e.getMessage().contains("config.json"), () -> ctx + ": " + e.getMessage());
        String bare = key.contains(".") ? key.substring(key.indexOf('.') + 1) : key;
        assertTrue(e.getMessage().contains(bare), () -> ctx + ": does not name the key: " + e.getMessage());
    }

    /** Each key's first bad value through the command line, the rest through {@link #expectRefusedByLoad}. */
    private void sweep(Path model, String key, String what, boolean first) {
        if (first) {
            expectRefused(model, key, what);
        } else {
            expectRefusedByLoad(model, key, what);
        }
    }

    private void expectRefused(Path model, String key, String what) {
        Path out = tmp.resolve("o-" + System.nanoTime() + ".safetensors");
        Cli.Result r = Cli.run("logits", "--model", model.toString(), "--ids", "1,2,3", "--out", out.toString());
        String ctx = key + " = " + what;
        assertEquals(3, r.code(), () -> ctx + ": exit code; stderr:\n" + r.err());
        r.assertNoTrace();
        String line = r.errorLine();
        assertTrue(line.contains("config.json"), () -> ctx + ": error does not name config.json: " + line);
        String bare = key.contains(".") ? key.substring(key.indexOf('.') + 1) : key;
        assertTrue(line.contains(bare), () -> ctx + ": error does not name the key: " + line);
        assertFalse(Files.exists(out), ctx + ": wrote an output");
    }

    @Test
    void everyTopLevelKeyRefusesBadValues() throws IOException {
        int cases = 0;
        for (var e : ModelConfigRules.TOP.entrySet()) {
            String key = e.getKey();
            boolean first = true;
            for (var bad : badValues(e.getValue()).entrySet()) {
                Path m = modelWith("llama", c -> c.set(key, bad.getValue()));
                sweep(m, key, bad.getKey() + " " + bad.getValue(), first);
                first = false;
                cases++;
            }
        }
        assertTrue(cases > 200, "cases: " + cases);
    }

    @Test
    void everyRopeKeyRefusesBadValues() throws IOException {
        for (String holder : new String[] {"rope_parameters", "rope_scaling"}) {
            for (var e : ModelConfigRules.ROPE.entrySet()) {
                String key = e.getKey();
                boolean first = true;
                for (var bad : badValues(e.getValue()).entrySet()) {
                    Path m = modelWith("llama", c -> {
                        c.remove("rope_parameters");
                        ObjectNode p = c.putObject(holder);
                        p.put("rope_type", "llama3")
                                .put("factor", 8.0)
                                .put("low_freq_factor", 1.0)
                                .put("high_freq_factor", 4.0)
                                .put("original_max_position_embeddings", 32);
                        p.set(key, bad.getValue());
                    });
                    sweep(m, holder + "." + key, bad.getKey() + " " + bad.getValue(), first);
                    first = false;
                }
            }
        }
    }

    @Test
    void gpt2KeysToo() throws IOException {
        for (String key : new String[] {
            "n_embd", "n_head", "n_layer", "n_positions", "n_inner", "layer_norm_epsilon", "activation_function"
        }) {
            for (var bad : badValues(ModelConfigRules.TOP.get(key)).entrySet()) {
                expectRefusedByLoad(modelWith("gpt2", c -> c.set(key, bad.getValue())), key, bad.getKey());
            }
        }
    }

    @Test
    void theIssuesExamples() throws IOException {
        expectRefused(
                modelWith("llama", c -> ((ObjectNode) c.get("rope_parameters")).put("rope_theta", 0)),
                "rope_theta",
                "0");
        expectRefused(
                modelWith("llama", c -> ((ObjectNode) c.get("rope_parameters")).put("rope_theta", -5)),
                "rope_theta",
                "-5");
        expectRefused(
                modelWith("llama", c -> ((ObjectNode) c.get("rope_parameters")).put("rope_theta", "big")),
                "rope_theta",
                "string");
        expectRefused(modelWith("llama", c -> c.put("rms_norm_eps", -1)), "rms_norm_eps", "-1");
        expectRefused(modelWith("llama", c -> c.put("rms_norm_eps", "tiny")), "rms_norm_eps", "tiny");
        expectRefused(modelWith("llama", c -> c.put("hidden_size", 48.5)), "hidden_size", "48.5");
        expectRefused(modelWith("llama", c -> c.put("tie_word_embeddings", "yes")), "tie_word_embeddings", "yes");
        expectRefused(
                modelWith(
                        "llama",
                        c -> c.putObject("rope_scaling")
                                .put("rope_type", "linear")
                                .put("factor", 0)),
                "factor",
                "0");
        // llama3 scaling divides by high - low
        expectRefused(
                modelWith(
                        "llama",
                        c -> ((ObjectNode) c.without("rope_parameters"))
                                .putObject("rope_scaling")
                                .put("rope_type", "llama3")
                                .put("factor", 8)
                                .put("low_freq_factor", 2)
                                .put("high_freq_factor", 2)
                                .put("original_max_position_embeddings", 32)),
                "high_freq_factor",
                "= low");
        // a theta so small the frequencies overflow FP32
        expectRefused(
                modelWith("llama", c -> ((ObjectNode) c.get("rope_parameters")).put("rope_theta", 1e-300)),
                "rope_theta",
                "1e-300");
    }

    @Test
    void trailingGarbageAndDuplicateKeysAreRefused() throws IOException {
        Path m = modelWith("llama", c -> {});
        Path cfg = m.resolve("config.json");
        String good = Files.readString(cfg);
        for (String bad : List.of(
                good + " {\"hidden_size\": 96}",
                good + " garbage",
                good.replaceFirst("\\{", "{\"hidden_size\": 96, "))) {
            Files.writeString(cfg, bad);
            Cli.Result r = Cli.run(
                    "logits",
                    "--model",
                    m.toString(),
                    "--ids",
                    "1,2",
                    "--out",
                    tmp.resolve("g.safetensors").toString());
            r.badInput("config.json");
        }
    }

    @Test
    void valuesThatDisagreeWithTheTensorsAreRefused() throws IOException {
        List<String> lines = new ArrayList<>();
        for (var edit : List.<java.util.function.Consumer<ObjectNode>>of(
                c -> c.put("hidden_size", 96),
                c -> c.put("vocab_size", 301),
                c -> c.put("intermediate_size", 111),
                c -> c.put("num_hidden_layers", 3))) {
            Path m = modelWith("llama", edit);
            Cli.Result r = Cli.run(
                    "logits",
                    "--model",
                    m.toString(),
                    "--ids",
                    "1,2",
                    "--out",
                    tmp.resolve("t.safetensors").toString());
            lines.add(r.badInput(m.getFileName().toString()).errorLine());
        }
        for (String l : lines) {
            assertTrue(l.contains("tensor"), () -> "does not name the tensor that disagrees: " + l);
        }
    }
}
