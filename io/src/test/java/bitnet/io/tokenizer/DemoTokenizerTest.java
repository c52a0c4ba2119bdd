package bitnet.io.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import org.junit.jupiter.api.Test;

/**
 * The demo model's byte-level BPE against HF's own encodings: encode_tests of demo-reference.json
 * (made with HF encode(text); the post-processor is ByteLevel, so no special tokens either way) and
 * heldout_ids.json (HF's tokenization of the whole heldout.txt as one string).
 */
class DemoTokenizerTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @Test
    void encodeTestsMatchHfAndRoundTrip() throws IOException {
        Tokenizer tok = TokenizerFixtures.load("demo-tokenizer.json");
        JsonNode tests = JSON.readTree(
                        TokenizerFixtures.resource("demo-reference.json").toFile())
                .get("encode_tests");
        assertFalse(tests.isEmpty());
        for (JsonNode t : tests) {
            String text = t.get("text").asText();
            int[] expected = ids(t.get("ids"));
            assertArrayEquals(expected, tok.encode(text), "encode " + LlamaCppVectorsTest.escape(text));
            assertArrayEquals(expected, tok.encode(text, false), "encode without specials " + text);
            assertEquals(text, tok.decode(expected), "decode");
        }
    }

    @Test
    void wholeHeldoutMatchesHf() throws IOException {
        Tokenizer tok = TokenizerFixtures.load("demo-tokenizer.json");
        String text = Files.readString(TokenizerFixtures.resource("demo-heldout.txt"), StandardCharsets.UTF_8);
        int[] expected = ids(JSON.readTree(
                TokenizerFixtures.resource("demo-heldout-ids.json").toFile()));
        assertEquals(69_099, expected.length);
        int[] got = tok.encode(text);
        int firstDiff = -1;
        for (int i = 0; i < Math.min(got.length, expected.length) && firstDiff < 0; i++)
            if (got[i] != expected[i]) firstDiff = i;
        assertEquals(-1, firstDiff, "first differing id index");
        assertEquals(expected.length, got.length);
        assertEquals(text, tok.decode(got));
    }

    @Test
    void specialsAndVocab() {
        Tokenizer tok = TokenizerFixtures.load("demo-tokenizer.json");
        assertEquals(8192, tok.vocabSize());
        assertEquals(0, tok.bosId());
        assertEquals(0, tok.eosId());
        assertEquals(0, tok.tokenToId("<|endoftext|>"));
        assertEquals("<|pad|>", tok.idToToken(1));
        // Added tokens are cut out before pre-tokenization and kept by decode unless skipped.
        int[] ids = tok.encode("Hello<|endoftext|>, world!");
        int[] hello = tok.encode("Hello");
        assertEquals(0, ids[hello.length]);
        assertEquals("Hello<|endoftext|>, world!", tok.decode(ids));
        assertEquals("Hello, world!", tok.decode(ids, true));
    }

    static int[] ids(JsonNode arr) {
        int[] out = new int[arr.size()];
        for (int i = 0; i < out.length; i++) out[i] = arr.get(i).asInt();
        return out;
    }
}
