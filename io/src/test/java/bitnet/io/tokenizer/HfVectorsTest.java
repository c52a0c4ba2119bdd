package bitnet.io.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.zip.GZIPInputStream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The real tokenizer.json of Qwen3, Gemma 3 and Mistral 7B against vectors.jsonl made by HF
 * tokenizers 0.23.2 (llama.cpp's vocab test texts and 48 stress texts; see the README of
 * ../shared/tokenizers): ids with and without special tokens, token strings, and the three decodes.
 * The files are stored gzipped: Qwen3 and Mistral byte for byte; Gemma 3's (33 MB) re-serialized
 * without whitespace first (the same JSON value, checked with Python's json module), which brings
 * it from 5.5 to 4.9 MB.
 */
class HfVectorsTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;

    @ParameterizedTest
    @CsvSource({"qwen3, 98", "gemma3, 94", "mistral, 94"})
    void everyVectorAsHf(String name, int vectors) throws IOException {
        Path file = tmp.resolve("tokenizer.json");
        try (InputStream in =
                new GZIPInputStream(Files.newInputStream(TokenizerFixtures.resource(name + "/tokenizer.json.gz")))) {
            Files.copy(in, file);
        }
        Tokenizer tok = Tokenizer.load(file);
        List<String> lines =
                Files.readAllLines(TokenizerFixtures.resource(name + "/vectors.jsonl"), StandardCharsets.UTF_8);
        List<String> failures = new ArrayList<>();
        int checked = 0;
        for (String line : lines) {
            if (line.isEmpty()) continue;
            JsonNode v = JSON.readTree(line);
            String text = v.get("text").asText();
            int[] ids = ints(v.get("ids")), withSpecial = ints(v.get("ids_with_special"));
            check(failures, text, "ids", Arrays.toString(ids), Arrays.toString(tok.encode(text, false)));
            check(
                    failures,
                    text,
                    "ids_with_special",
                    Arrays.toString(withSpecial),
                    Arrays.toString(tok.encode(text, true)));
            List<String> tokens = new ArrayList<>();
            for (int id : ids) tokens.add(tok.idToToken(id));
            List<String> expectedTokens = new ArrayList<>();
            for (JsonNode t : v.get("tokens")) expectedTokens.add(t.asText());
            check(failures, text, "tokens", expectedTokens.toString(), tokens.toString());
            check(failures, text, "decoded", v.get("decoded").asText(), tok.decode(ids, false));
            check(
                    failures,
                    text,
                    "decoded_with_special",
                    v.get("decoded_with_special").asText(),
                    tok.decode(withSpecial, false));
            check(
                    failures,
                    text,
                    "decoded_skip_special",
                    v.get("decoded_skip_special").asText(),
                    tok.decode(withSpecial, true));
            checked++;
        }
        assertEquals(vectors, checked, "vectors in " + name + "/vectors.jsonl");
        assertEquals(List.of(), failures, name + ": " + failures.size() + " mismatches");
    }

    private static void check(List<String> failures, String text, String what, String expected, String got) {
        if (!expected.equals(got)) {
            failures.add(
                    what + " of " + escape(text) + "\n  expected " + escape(expected) + "\n  got      " + escape(got));
        }
    }

    private static int[] ints(JsonNode a) {
        int[] out = new int[a.size()];
        for (int i = 0; i < out.length; i++) out[i] = a.get(i).asInt();
        return out;
    }

    private static String escape(String s) {
        return LlamaCppVectorsTest.escape(s.length() > 300 ? s.substring(0, 300) + "..." : s);
    }
}
