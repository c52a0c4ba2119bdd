package bitnet.engine.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * inspect, tokenize, detokenize, ppl and generate on the demo model (src/demo/model) and the
 * hf-tiny fixtures. Expected values from src/demo/reference.json and the fixtures' own files.
 */
class CliDemoTest {
    @TempDir
    Path tmp;

    static JsonNode reference() {
        return Cli.readJson(Cli.repo().resolve("src/demo/reference.json"));
    }

    @Test
    void inspectJsonListsEveryTensorAndTheParameterCount() throws Exception {
        JsonNode j = Cli.run("inspect", "--model", Cli.demoModel().toString(), "--json")
                .ok()
                .json();
        assertEquals("LlamaForCausalLM", j.get("architecture").asText());
        assertEquals(
                reference().get("params").asLong(), j.get("parameters").asLong(), "demo parameters (reference.json)");
        JsonNode ts = j.get("tensors");
        assertTrue(ts.isArray() && !ts.isEmpty());
        Set<String> names = new HashSet<>();
        for (JsonNode t : ts) {
            assertTrue(
                    t.get("name").isTextual()
                            && t.get("dtype").isTextual()
                            && t.get("shape").isArray(),
                    t.toString());
            names.add(t.get("name").asText());
        }
        assertTrue(
                names.contains("model.embed_tokens.weight") && names.contains("model.layers.0.self_attn.q_proj.weight"),
                names.toString());

        // untied llama: parameters = the sum of the tensor sizes; shapes as stored
        JsonNode l = Cli.run("inspect", "--model", Cli.hfTiny("llama").toString(), "--json")
                .ok()
                .json();
        long sum = 0;
        for (JsonNode t : l.get("tensors")) {
            long n = 1;
            for (JsonNode d : t.get("shape")) {
                n *= d.asLong();
            }
            sum += n;
            if (t.get("name").asText().equals("model.layers.0.self_attn.k_proj.weight")) {
                assertEquals("[24,48]", t.get("shape").toString());
                assertEquals("F32", t.get("dtype").asText());
            }
        }
        assertEquals(sum, l.get("parameters").asLong());
        // sharded bf16: every shard's tensors, in BF16
        JsonNode sh = Cli.run(
                        "inspect",
                        "--model",
                        Cli.hfTiny("llama3rope-bf16-sharded").toString(),
                        "--json")
                .ok()
                .json();
        assertTrue(sh.get("tensors").size() >= 20);
        for (JsonNode t : sh.get("tensors")) {
            assertEquals("BF16", t.get("dtype").asText(), t.toString());
        }
        // pytorch_model.bin
        JsonNode bin = Cli.run("inspect", "--model", Cli.hfTiny("gpt2-bin").toString(), "--json")
                .ok()
                .json();
        assertEquals(
                Cli.run("inspect", "--model", Cli.hfTiny("gpt2").toString(), "--json")
                        .ok()
                        .json()
                        .get("parameters"),
                bin.get("parameters"));
    }

    @Test
    void inspectTableNamesArchitectureParametersAndTensors() {
        Cli.Result r =
                Cli.run("inspect", "--model", Cli.hfTiny("gpt2").toString()).ok();
        assertTrue(r.out().contains("GPT2LMHeadModel"), r.out());
        assertTrue(r.out().contains("transformer.h.1.mlp.c_fc.weight"), r.out());
        assertTrue(r.out().contains("[48, 192]"), r.out());
    }

    @Test
    void tokenizeMatchesHuggingFaceEncodings() throws Exception {
        String tok = Cli.demoModel().resolve("tokenizer.json").toString();
        List<String> texts = new ArrayList<>();
        List<int[]> wants = new ArrayList<>();
        for (JsonNode t : reference().get("encode_tests")) {
            texts.add(t.get("text").asText());
            wants.add(Cli.ints(t.get("ids")));
        }
        assertTrue(texts.size() >= 2);
        for (int i = 0; i < texts.size(); i++) {
            JsonNode j = Cli.run("tokenize", "--tokenizer", tok, "--text", texts.get(i))
                    .ok()
                    .json();
            assertArrayEquals(wants.get(i), Cli.ints(j.get("ids")), "--text " + texts.get(i));
        }
        // --file: the whole file as one string (a directory works as --tokenizer)
        Path f = tmp.resolve("t.txt");
        Files.writeString(f, texts.get(1), StandardCharsets.UTF_8);
        JsonNode j = Cli.run("tokenize", "--tokenizer", Cli.demoModel().toString(), "--file", f.toString())
                .ok()
                .json();
        assertArrayEquals(wants.get(1), Cli.ints(j.get("ids")));
        // --jsonl: one JSON array per input line, in order
        StringBuilder sb = new StringBuilder();
        for (String t : texts) {
            sb.append(Cli.JSON.writeValueAsString(t)).append('\n');
        }
        Path jl = tmp.resolve("t.jsonl");
        Files.writeString(jl, sb, StandardCharsets.UTF_8);
        Cli.Result r = Cli.run("tokenize", "--tokenizer", tok, "--jsonl", jl.toString())
                .ok();
        List<String> lines = r.out().lines().filter(s -> !s.isBlank()).toList();
        assertEquals(texts.size(), lines.size(), r.out());
        for (int i = 0; i < lines.size(); i++) {
            JsonNode a = Cli.JSON.readTree(lines.get(i));
            assertTrue(a.isArray(), lines.get(i));
            assertArrayEquals(wants.get(i), Cli.ints(a), "jsonl line " + i);
        }
    }

    @Test
    void detokenizeInvertsTheGreedyReference() {
        JsonNode ref = reference();
        int[] ids = Cli.ints(ref.get("greedy_ids"));
        JsonNode j = Cli.run("detokenize", "--tokenizer", Cli.demoModel().toString(), "--ids", Cli.idsArg(ids))
                .ok()
                .json();
        assertEquals(ref.get("greedy_text").asText(), j.get("text").asText());
        JsonNode e = ref.get("encode_tests").get(0);
        JsonNode j2 = Cli.run(
                        "detokenize",
                        "--tokenizer",
                        Cli.demoModel().toString(),
                        "--ids",
                        Cli.idsArg(Cli.ints(e.get("ids"))))
                .ok()
                .json();
        assertEquals(e.get("text").asText(), j2.get("text").asText());
    }

    @Test
    void demoPerplexityMatchesReference() {
        JsonNode ref = reference();
        JsonNode j = Cli.run(
                        "ppl",
                        "--model",
                        Cli.demoModel().toString(),
                        "--text",
                        Cli.demoHeldout().toString(),
                        "--json")
                .ok()
                .json();
        double want = ref.get("ppl_fp").asDouble();
        double got = j.get("ppl").asDouble();
        assertTrue(Math.abs(got / want - 1) < 5e-4, "ppl " + got + " vs reference " + want);
        assertEquals(ref.get("eval_tokens").asLong(), j.get("tokens").asLong());
        assertEquals(64, j.get("windows").asInt());
    }

    @Test
    void demoGreedyGenerationMatchesReference() {
        JsonNode ref = reference();
        String prompt = ref.get("greedy_prompt").asText();
        int[] want = Cli.ints(ref.get("greedy_ids"));
        // greedy_ids holds the prompt's ids followed by the new ones
        int[] promptIds =
                Cli.ints(Cli.run("tokenize", "--tokenizer", Cli.demoModel().toString(), "--text", prompt)
                        .ok()
                        .json()
                        .get("ids"));
        assertArrayEquals(promptIds, Arrays.copyOf(want, promptIds.length), "greedy_ids starts with the prompt's ids");
        int maxNew = want.length - promptIds.length;
        JsonNode j = Cli.run(
                        "generate",
                        "--model",
                        Cli.demoModel().toString(),
                        "--prompt",
                        prompt,
                        "--max-new",
                        Integer.toString(maxNew),
                        "--greedy",
                        "--json")
                .ok()
                .json();
        assertArrayEquals(want, Cli.ints(j.get("ids")));
        assertEquals(ref.get("greedy_text").asText(), j.get("text").asText());
    }

    @Test
    void samplingIsReproducibleForASeedAndVariesAcrossSeeds() {
        String model = Cli.demoModel().toString();
        java.util.function.Function<String, int[]> gen = seed -> Cli.ints(Cli.run(
                        "generate",
                        "--model",
                        model,
                        "--prompt",
                        "The ",
                        "--max-new",
                        "24",
                        "--temperature",
                        "0.9",
                        "--top-p",
                        "0.95",
                        "--seed",
                        seed,
                        "--ignore-eos",
                        "--json")
                .ok()
                .json()
                .get("ids"));
        int[] a = gen.apply("7");
        int[] b = gen.apply("7");
        int[] c = gen.apply("8");
        assertArrayEquals(a, b, "same seed, same ids");
        assertEquals(a.length, c.length);
        assertFalse(Arrays.equals(a, c), "seeds 7 and 8 gave the same 24 sampled tokens");
        int[] greedy = Cli.ints(reference().get("greedy_ids"));
        assertFalse(
                Arrays.equals(
                        Arrays.copyOf(a, Math.min(a.length, greedy.length)),
                        Arrays.copyOf(greedy, Math.min(a.length, greedy.length))),
                "sampling at T=0.9 reproduced the greedy sequence");
    }
}
