package bitnet.io.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The hand-written scanners against java.util.regex running the same pattern (with Unicode
 * classes, so \s is White_Space like Oniguruma's) on many short random strings drawn from an
 * alphabet that hits every alternative: contractions in both cases, letters, numbers of several
 * categories, punctuation, combining marks, astral symbols, and every kind of whitespace.
 */
class RegexScannersTest {
    private static final String[] ALPHABET = {
        " ",
        " ",
        " ",
        "\t",
        "\n",
        "\r",
        "\u000B",
        "\u00A0",
        "\u3000",
        "\u2009",
        "\u0085",
        "a",
        "Z",
        "\u00e9",
        "\u65e5",
        "\u0416",
        "s",
        "S",
        "t",
        "T",
        "r",
        "R",
        "e",
        "E",
        "v",
        "V",
        "l",
        "L",
        "d",
        "D",
        "m",
        "M",
        "'",
        "'",
        "'",
        "1",
        "7",
        "\u0663",
        "\u00BD",
        "\u2167",
        ".",
        ",",
        "!",
        "-",
        "_",
        "\u2014",
        "\u0301",
        "\uD83D\uDE00",
        "\u001F"
    };

    static int[] oracle(String pattern, String s) {
        Pattern p = Pattern.compile(pattern, Pattern.UNICODE_CHARACTER_CLASS | Pattern.UNICODE_CASE);
        Matcher m = p.matcher(s);
        java.util.List<Integer> ends = new java.util.ArrayList<>();
        int prev = 0;
        while (m.find()) {
            if (m.start() != prev) throw new AssertionError("gap in oracle matches of " + s);
            ends.add(m.end());
            prev = m.end();
        }
        return ends.stream().mapToInt(Integer::intValue).toArray();
    }

    @ParameterizedTest
    @ValueSource(strings = {RegexScanners.GPT2_PATTERN, RegexScanners.LLAMA3_PATTERN, RegexScanners.QWEN2_PATTERN})
    void matchesJavaRegexOnRandomStrings(String pattern) {
        RegexScanners.Scanner sc = RegexScanners.forPattern(pattern);
        assertNotNull(sc);
        Random r = new Random(pattern.length());
        for (int iter = 0; iter < 4000; iter++) {
            StringBuilder b = new StringBuilder();
            int len = r.nextInt(24);
            for (int k = 0; k < len; k++) b.append(ALPHABET[r.nextInt(ALPHABET.length)]);
            String s = b.toString();
            assertArrayEquals(
                    oracle(pattern, s), sc.matchEnds(s), () -> "split of '" + LlamaCppVectorsTest.escape(s) + "'");
        }
    }
}
