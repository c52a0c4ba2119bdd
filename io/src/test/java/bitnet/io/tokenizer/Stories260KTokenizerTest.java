package bitnet.io.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.Arrays;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/**
 * stories260K: a SentencePiece-style BPE (Prepend + Replace normalizer, no pre-tokenizer, byte
 * fallback, TemplateProcessing that adds BOS). Expected ids: HF's greedy generation of the reference
 * story (reference_greedy_ids.json, whose decode is reference_story.txt), and for the short strings
 * an independent naive BPE (repeatedly merge the lowest-rank adjacent pair) run in Python over the
 * same tokenizer.json.
 */
class Stories260KTokenizerTest {
    private static Tokenizer tok() {
        return TokenizerFixtures.load("stories260K-tokenizer.json");
    }

    private static int[] greedy() throws IOException {
        return DemoTokenizerTest.ids(new ObjectMapper()
                .readTree(TokenizerFixtures.resource("stories260K/reference_greedy_ids.json")
                        .toFile()));
    }

    private static String story() throws IOException {
        String s =
                Files.readString(TokenizerFixtures.resource("stories260K/reference_story.txt"), StandardCharsets.UTF_8);
        return s.endsWith("\n") ? s.substring(0, s.length() - 1) : s; // the file ends with print's newline
    }

    @Test
    void decodeOfGreedyIdsIsTheStory() throws IOException {
        int[] g = greedy();
        assertEquals(200, g.length);
        assertEquals(story(), tok().decode(g));
        // HF keeps "<s>" and its Strip decoder only strips a leading space, which is then not first.
        int[] withBos = IntStream.concat(IntStream.of(1), Arrays.stream(g)).toArray();
        assertEquals("<s> " + story(), tok().decode(withBos));
        assertEquals(story(), tok().decode(withBos, true));
    }

    @Test
    void encodeOfStoryIsBosPlusGreedyIds() throws IOException {
        int[] g = greedy();
        int[] expected = IntStream.concat(IntStream.of(1), Arrays.stream(g)).toArray();
        assertArrayEquals(expected, tok().encode(story()));
        assertArrayEquals(g, tok().encode(story(), false));
    }

    @Test
    void shortStringsMatchNaiveBpe() {
        assertArrayEquals(new int[] {1, 403, 407, 261, 378}, tok().encode("Once upon a time"));
        assertArrayEquals(
                new int[] {1, 317, 439, 419, 357, 336, 432, 313, 440, 417, 443, 436, 13},
                tok().encode("Lily's mom said, \"Hi!\"\n"));
        // é is in the vocab; the CJK chars and the snowman fall back to bytes.
        assertArrayEquals(
                new int[] {1, 270, 485, 306, 414, 410, 233, 154, 168, 233, 159, 175, 410, 229, 155, 134},
                tok().encode("h\u00e9llo \u65e5\u672c \u2603"));
        assertArrayEquals(new int[] {1}, tok().encode(""));
        assertArrayEquals(
                new int[] {1, 410, 410, 259, 424, 414, 410, 262, 427, 412, 331, 419, 410},
                tok().encode("  two  spaces "));
        assertEquals(
                "h\u00e9llo \u65e5\u672c \u2603", tok().decode(tok().encode("h\u00e9llo \u65e5\u672c \u2603", false)));
    }

    @Test
    void specials() {
        assertEquals(1, tok().bosId());
        assertEquals(2, tok().eosId());
        assertEquals(512, tok().vocabSize());
        // An added token splits the input first; the text after it gets its own Prepend.
        int[] a = tok().encode("<s>Once", false);
        int[] once = tok().encode("Once", false);
        assertEquals(1, a[0]);
        assertArrayEquals(once, Arrays.copyOfRange(a, 1, a.length));
    }
}
