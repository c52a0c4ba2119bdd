package bitnet.io.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * llama.cpp's tokenizer test vectors (made by convert_hf_to_gguf_update.py with HF
 * {@code tokenizer.encode(text, add_special_tokens=False)}): each text in *.inp is followed by
 * "\n__ggml_vocab_test__\n"; *.out has one line per text, ids each preceded by a space.
 */
class LlamaCppVectorsTest {

    @ParameterizedTest
    @CsvSource({"gpt-2, gpt2/tokenizer.json", "llama-bpe, llama3/tokenizer.json"})
    void everyVectorMatches(String vectors, String tokenizerFile) throws IOException {
        Tokenizer tok = TokenizerFixtures.load(tokenizerFile);
        String inp =
                Files.readString(TokenizerFixtures.resource("vectors/" + vectors + ".inp"), StandardCharsets.UTF_8);
        List<String> outLines =
                Files.readAllLines(TokenizerFixtures.resource("vectors/" + vectors + ".out"), StandardCharsets.UTF_8);
        String sep = "\n__ggml_vocab_test__\n";
        List<String> texts = new ArrayList<>();
        int from = 0;
        for (int at = inp.indexOf(sep); at >= 0; at = inp.indexOf(sep, from)) {
            texts.add(inp.substring(from, at));
            from = at + sep.length();
        }
        assertEquals("", inp.substring(from), "trailing text after the last separator");
        assertEquals(outLines.size(), texts.size(), "texts vs id lines");
        int failures = 0;
        StringBuilder report = new StringBuilder();
        for (int k = 0; k < texts.size(); k++) {
            String line = outLines.get(k).trim();
            int[] expected = line.isEmpty()
                    ? new int[0]
                    : Arrays.stream(line.split(" ")).mapToInt(Integer::parseInt).toArray();
            int[] got = tok.encode(texts.get(k), false);
            if (!Arrays.equals(expected, got)) {
                failures++;
                report.append("\n#")
                        .append(k)
                        .append(" ")
                        .append(escape(texts.get(k)))
                        .append("\n  expected ")
                        .append(Arrays.toString(expected))
                        .append("\n  got      ")
                        .append(Arrays.toString(got));
            }
        }
        assertEquals(0, failures, vectors + ": " + failures + " of " + texts.size() + " differ" + report);
        assertEquals(46, texts.size());
    }

    static String escape(String s) {
        return s.replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r");
    }
}
