package bitnet.io.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Pythia (GPT-NeoX) and Phi-3 tokenizers, whose real files are not in the reference data: small
 * tokenizer.json files with the same components and JSON layout (NFC, ByteLevel with trim_offsets,
 * space-run added tokens that are normalized and not special; Llama-2 SentencePiece BPE with byte
 * fallback, Prepend/Replace normalizers, chat tokens with rstrip), made with the expected
 * encodings and decodes by HF tokenizers 0.23.2: synthetic/make_synthetic.py says how.
 */
class SyntheticFamiliesTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @ParameterizedTest
    @ValueSource(strings = {"pythia", "phi3"})
    void encodesAndDecodesAsHf(String name) throws IOException {
        Tokenizer tok = TokenizerFixtures.load("synthetic/" + name + "-tokenizer.json");
        List<String> failures = new ArrayList<>();
        int n = 0;
        for (String line : Files.readAllLines(
                TokenizerFixtures.resource("synthetic/" + name + "-expected.jsonl"), StandardCharsets.UTF_8)) {
            if (line.isEmpty()) continue;
            JsonNode v = JSON.readTree(line);
            String text = v.get("text").asText();
            int[] ids = JSON.convertValue(v.get("ids"), int[].class),
                    ws = JSON.convertValue(v.get("ids_with_special"), int[].class);
            check(failures, text, "ids", Arrays.toString(ids), Arrays.toString(tok.encode(text, false)));
            check(failures, text, "ids_with_special", Arrays.toString(ws), Arrays.toString(tok.encode(text, true)));
            check(failures, text, "decoded", v.get("decoded").asText(), tok.decode(ids, false));
            check(
                    failures,
                    text,
                    "decoded_skip_special",
                    v.get("decoded_skip_special").asText(),
                    tok.decode(ws, true));
            n++;
        }
        assertEquals(111, n, "vectors");
        assertEquals(List.of(), failures, name + ": " + failures.size() + " mismatches");
    }

    @ParameterizedTest
    @ValueSource(strings = {"pythia", "phi3"})
    void theCasesThatMatterAreInTheVectors(String name) throws IOException {
        // the space-run added tokens (Pythia) and the rstrip chat tokens (Phi-3) are exercised
        Tokenizer tok = TokenizerFixtures.load("synthetic/" + name + "-tokenizer.json");
        String probe = name.equals("pythia") ? "x" + " ".repeat(25) + "y" : "<|user|>   x<|end|>";
        Integer special = tok.tokenToId(name.equals("pythia") ? " ".repeat(24) : "<|user|>");
        assertTrue(special != null && Arrays.stream(tok.encode(probe, false)).anyMatch(id -> id == special), name);
    }

    /**
     * The slower load paths give the same ids as HF: merges before the vocab and the
     * continuing_subword_prefix after them (key order is free in JSON), and a vocab where two
     * tokens share an id (lookups then go through a HashMap). The extra token is not producible
     * from text, so HF's ids for these texts stay the reference.
     */
    @ParameterizedTest
    @ValueSource(strings = {"reordered", "shared-id"})
    void slowLoadPathsAgree(String variant, @org.junit.jupiter.api.io.TempDir java.nio.file.Path dir)
            throws IOException {
        var root = (com.fasterxml.jackson.databind.node.ObjectNode) JSON.readTree(
                TokenizerFixtures.resource("synthetic/pythia-tokenizer.json").toFile());
        var model = (com.fasterxml.jackson.databind.node.ObjectNode) root.get("model");
        var out = JSON.createObjectNode();
        if (variant.equals("reordered")) {
            out.set("merges", model.get("merges"));
            model.fieldNames().forEachRemaining(k -> {
                if (!k.equals("merges") && !k.equals("continuing_subword_prefix")) out.set(k, model.get(k));
            });
            out.set("continuing_subword_prefix", model.get("continuing_subword_prefix"));
        } else {
            out.setAll(model);
            ((com.fasterxml.jackson.databind.node.ObjectNode) out.get("vocab")).put("\u0001\u0002dup", 5);
        }
        root.set("model", out);
        java.nio.file.Path f = dir.resolve("tokenizer.json");
        JSON.writeValue(f.toFile(), root);
        Tokenizer tok = Tokenizer.load(f);
        List<String> failures = new ArrayList<>();
        for (String line : Files.readAllLines(
                TokenizerFixtures.resource("synthetic/pythia-expected.jsonl"), StandardCharsets.UTF_8)) {
            JsonNode v = JSON.readTree(line);
            String text = v.get("text").asText();
            check(
                    failures,
                    text,
                    "ids",
                    Arrays.toString(JSON.convertValue(v.get("ids"), int[].class)),
                    Arrays.toString(tok.encode(text, false)));
        }
        assertEquals(List.of(), failures, variant);
    }

    private static void check(List<String> failures, String text, String what, String expected, String got) {
        if (!expected.equals(got)) {
            failures.add(what + " of " + LlamaCppVectorsTest.escape(text) + "\n  expected "
                    + LlamaCppVectorsTest.escape(expected) + "\n  got      " + LlamaCppVectorsTest.escape(got));
        }
    }
}
