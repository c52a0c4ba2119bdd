package bitnet.io.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import bitnet.io.BadInputException;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Pieces of the pipeline against the examples in HF tokenizers' own docs and tests (Split
 * behaviors on "the-final--countdown", Metaspace on "Hey   friend!"), added-token handling on the
 * GPT-2 and Llama-3 files, and the BadInputException cases.
 */
class ComponentsTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    private static List<String> pre(String json, String text) throws IOException {
        PreTokenizers.PreTokenizer pt = PreTokenizers.parse(JSON.readTree(json), Path.of("test.json"));
        List<String> out = new ArrayList<>();
        for (PreTokenizers.Piece p : PreTokenizers.run(pt, List.of(new PreTokenizers.Piece(text, true))))
            out.add(p.text());
        return out;
    }

    private static String split(String behavior) {
        return "{\"type\":\"Split\",\"pattern\":{\"String\":\"-\"},\"behavior\":\"" + behavior + "\",\"invert\":false}";
    }

    @Test
    void splitBehaviorsAsHfDocs() throws IOException {
        String s = "the-final--countdown";
        assertEquals(List.of("the", "final", "countdown"), pre(split("Removed"), s));
        assertEquals(List.of("the", "-", "final", "-", "-", "countdown"), pre(split("Isolated"), s));
        assertEquals(List.of("the-", "final-", "-", "countdown"), pre(split("MergedWithPrevious"), s));
        assertEquals(List.of("the", "-final", "-", "-countdown"), pre(split("MergedWithNext"), s));
        assertEquals(List.of("the", "-", "final", "--", "countdown"), pre(split("Contiguous"), s));
    }

    @Test
    void metaspaceAsHfTests() throws IOException {
        String ms = "{\"type\":\"Metaspace\",\"replacement\":\"\u2581\",\"prepend_scheme\":\"always\",\"split\":true}";
        assertEquals(List.of("\u2581Hey", "\u2581", "\u2581", "\u2581friend!"), pre(ms, "Hey   friend!"));
        Decoders.Decoder d = Decoders.parse(JSON.readTree(ms), Path.of("test.json"));
        assertEquals(List.of("Hey", " friend!"), d.apply(List.of("\u2581Hey", "\u2581friend!")));
        String never = ms.replace("always", "never");
        assertEquals(List.of("Hey", "\u2581", "\u2581", "\u2581friend!"), pre(never, "Hey   friend!"));
    }

    @Test
    void decodersByteFallbackFuseStrip() throws IOException {
        Decoders.Decoder d = Decoders.parse(
                JSON.readTree("{\"type\":\"Sequence\",\"decoders\":["
                        + "{\"type\":\"Replace\",\"pattern\":{\"String\":\"\u2581\"},\"content\":\" \"},{\"type\":\"ByteFallback\"},"
                        + "{\"type\":\"Fuse\"},{\"type\":\"Strip\",\"content\":\" \",\"start\":1,\"stop\":0}]}"),
                Path.of("t.json"));
        // E2 98 83 is the snowman; a lone 0xFF is invalid UTF-8 and becomes one U+FFFD.
        assertEquals(
                List.of("a\u2603 b\uFFFD"),
                d.apply(List.of("\u2581a", "<0xE2>", "<0x98>", "<0x83>", "\u2581b", "<0xFF>")));
    }

    @Test
    void gpt2AndLlama3Specials() {
        Tokenizer g = TokenizerFixtures.load("gpt2/tokenizer.json");
        assertEquals(50257, g.vocabSize());
        assertEquals(50256, g.bosId());
        assertEquals(50256, g.eosId());
        assertArrayEquals(new int[] {15496, 50256, 995}, g.encode("Hello<|endoftext|> world"));
        assertEquals("Hello world", g.decode(new int[] {15496, 50256, 995}, true));
        Tokenizer l = TokenizerFixtures.load("llama3");
        assertEquals(128256, l.vocabSize());
        assertEquals(128000, l.bosId());
        assertEquals(128001, l.eosId());
        int[] ids = l.encode("<|begin_of_text|>Hello world");
        assertEquals(128000, ids[0]);
        assertArrayEquals(l.encode("Hello world"), java.util.Arrays.copyOfRange(ids, 1, ids.length));
        assertEquals("<|begin_of_text|>Hello world", l.decode(ids));
        assertEquals(128000, l.tokenToId("<|begin_of_text|>"));
        assertNull(l.tokenToId("no such token"));
        assertNull(l.idToToken(999_999));
    }

    @Test
    void badInputsNameFileAndProblem(@TempDir Path dir) throws IOException {
        Path missing = dir.resolve("nope.json");
        BadInputException e = assertThrows(BadInputException.class, () -> Tokenizer.load(missing));
        assertTrue(e.getMessage().contains("nope.json") && e.getMessage().contains("no such"), e.getMessage());

        Path broken = dir.resolve("broken.json");
        Files.writeString(broken, "{\"model\": {");
        e = assertThrows(BadInputException.class, () -> Tokenizer.load(broken));
        assertTrue(e.getMessage().contains("broken.json") && e.getMessage().contains("invalid"), e.getMessage());

        Path uni = dir.resolve("unigram.json");
        Files.writeString(uni, "{\"model\": {\"type\": \"Unigram\", \"vocab\": []}}");
        e = assertThrows(BadInputException.class, () -> Tokenizer.load(uni));
        assertTrue(e.getMessage().contains("unigram.json") && e.getMessage().contains("Unigram"), e.getMessage());

        Path bert = dir.resolve("bert.json"); // a pre-tokenizer not implemented (of Unigram models' files)
        Files.writeString(
                bert,
                "{\"pre_tokenizer\": {\"type\": \"UnicodeScripts\"},"
                        + "\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}}");
        e = assertThrows(BadInputException.class, () -> Tokenizer.load(bert));
        assertTrue(e.getMessage().contains("bert.json") && e.getMessage().contains("UnicodeScripts"), e.getMessage());

        Path badMerge = dir.resolve("merge.json");
        Files.writeString(badMerge, "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [\"a b\"]}}");
        e = assertThrows(BadInputException.class, () -> Tokenizer.load(badMerge));
        assertTrue(e.getMessage().contains("merge.json"), e.getMessage());
    }

    @Test
    void tinyBpeWithPairMergesUnkAndTemplate(@TempDir Path dir) throws IOException {
        // Pair-form merges, unk with fuse_unk, Roberta-style wrapping; "ab" merges first (rank 0).
        Path f = dir.resolve("tokenizer.json");
        Files.writeString(
                f,
                "{\"added_tokens\":[{\"id\":5,\"content\":\"<s>\",\"special\":true},{\"id\":6,\"content\":\"</s>\",\"special\":true}],"
                        + "\"post_processor\":{\"type\":\"RobertaProcessing\",\"sep\":[\"</s>\",6],\"cls\":[\"<s>\",5]},"
                        + "\"pre_tokenizer\":{\"type\":\"WhitespaceSplit\"},"
                        + "\"model\":{\"type\":\"BPE\",\"unk_token\":\"?\",\"fuse_unk\":true,"
                        + "\"vocab\":{\"?\":0,\"a\":1,\"b\":2,\"ab\":3,\"abb\":4},\"merges\":[[\"a\",\"b\"],[\"ab\",\"b\"]]}}");
        Tokenizer t = Tokenizer.load(dir);
        assertArrayEquals(new int[] {5, 4, 0, 1, 6}, t.encode("abb xyz a"));
        assertArrayEquals(new int[] {4, 0, 1}, t.encode("abb xyz a", false));
        assertEquals(5, t.bosId());
        assertEquals(6, t.eosId());
        assertEquals("abb ? a", t.decode(new int[] {4, 0, 1}));
    }

    @Test
    void metaspaceFirstSchemeOnlyAtInputStart(@TempDir Path dir) throws IOException {
        // HF prepends for "first" only when the piece starts at offset 0 of the input, so text right
        // after a leading added token gets no prefix.
        Path f = dir.resolve("t.json");
        Files.writeString(
                f,
                "{\"added_tokens\":[{\"id\":8,\"content\":\"<s>\",\"special\":true}],"
                        + "\"pre_tokenizer\":{\"type\":\"Metaspace\",\"replacement\":\"\u2581\",\"prepend_scheme\":\"first\",\"split\":false},"
                        + "\"decoder\":{\"type\":\"Metaspace\",\"replacement\":\"\u2581\",\"prepend_scheme\":\"first\",\"split\":false},"
                        + "\"model\":{\"type\":\"BPE\",\"vocab\":{\"<unk>\":0,\"H\":1,\"e\":2,\"y\":3,\"\u2581\":4,\"He\":5,\"Hey\":6,\"\u2581Hey\":7},"
                        + "\"merges\":[\"H e\",\"He y\",\"\u2581 Hey\"]}}");
        Tokenizer t = Tokenizer.load(f);
        assertArrayEquals(new int[] {7}, t.encode("Hey"));
        assertArrayEquals(new int[] {8, 6}, t.encode("<s>Hey"));
        assertArrayEquals(new int[] {7, 8, 6, 7}, t.encode("Hey<s>Hey Hey")); // split=false: "Hey\u2581Hey" is one word
        assertEquals("Hey", t.decode(new int[] {7}));
    }

    /** Expected values printed by HF tokenizers 0.23.2 (normalize_str, pre_tokenize_str, decode) for the same inputs. */
    @Test
    void moreComponentsAsHf() throws IOException {
        Path f = Path.of("test.json");
        assertEquals(
                "ab c d e \u0085f g",
                Normalizers.parse(JSON.readTree("{\"type\":\"Nmt\"}"), f)
                        .apply("a\u0001b\tc\u200bd\u2581e\ufeff\u007f\u0085f\u2028g"));
        assertEquals(
                "H\u00c3\u00a9llo\u0120w\u00c3\u00b6rld\u0120\u00e2\u013a\u0125",
                Normalizers.parse(JSON.readTree("{\"type\":\"ByteLevel\"}"), f).apply("H\u00e9llo w\u00f6rld \u2603"));
        assertEquals(List.of("a", "b", "c "), pre("{\"type\":\"CharDelimiterSplit\",\"delimiter\":\"x\"}", "axbxxc x"));
        assertEquals(
                List.of("abc", "def", "gh\uD83D\uDE00", "ij"),
                pre("{\"type\":\"FixedLength\",\"length\":3}", "abcdefgh\uD83D\uDE00ij"));
        assertEquals(
                List.of("Hey", ",", "friend", "!", "\u00bf", "Qu\u00e9", "tal", "?", "(", "x", ")"),
                pre("{\"type\":\"BertPreTokenizer\"}", "Hey,  friend!\u00bfQu\u00e9 tal? (x)"));
        Decoders.Decoder bpe = Decoders.parse(JSON.readTree("{\"type\":\"BPEDecoder\",\"suffix\":\"</w>\"}"), f);
        assertEquals("hello world", String.join("", bpe.apply(List.of("hel", "lo</w>", "wor", "ld</w>"))));
        List<String> wp = List.of("I", "do", "n't", "play", "##ing", ",", "it", "'s", "fine", ".");
        Decoders.Decoder clean =
                Decoders.parse(JSON.readTree("{\"type\":\"WordPiece\",\"prefix\":\"##\",\"cleanup\":true}"), f);
        assertEquals("I don't playing, it's fine.", String.join("", clean.apply(wp)));
        Decoders.Decoder raw =
                Decoders.parse(JSON.readTree("{\"type\":\"WordPiece\",\"prefix\":\"##\",\"cleanup\":false}"), f);
        assertEquals("I do n't playing , it 's fine .", String.join("", raw.apply(wp)));
    }
}
