package bitnet.io.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Inputs that make backtracking regexes or quadratic BPE blow up: long runs of one class and a
 * 1 MB string with no spaces (one pre-token). Each must encode in a few seconds and round-trip.
 */
class PathologicalInputTest {
    static String randomUnicode(int n, long seed) {
        Random r = new Random(seed);
        StringBuilder b = new StringBuilder(n * 2);
        for (int count = 0; count < n; ) {
            int cp = switch (r.nextInt(4)) {
                case 0 -> 0x20 + r.nextInt(0x60);
                case 1 -> 0xA0 + r.nextInt(0x2000);
                case 2 -> 0x3000 + r.nextInt(0x6000);
                default -> 0x1F300 + r.nextInt(0x300);
            };
            if (Character.isDefined(cp) && !Character.isSurrogate((char) cp)) {
                b.appendCodePoint(cp);
                count++;
            }
        }
        return b.toString();
    }

    static String input(String kind) {
        return switch (kind) {
            case "spaces" -> " ".repeat(200_000);
            case "letters" -> "a".repeat(200_000);
            case "unicode" -> randomUnicode(100_000, 7);
            case "nospace" -> {
                Random r = new Random(3);
                StringBuilder b = new StringBuilder(1 << 20);
                String alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
                while (b.length() < (1 << 20)) b.append(alphabet.charAt(r.nextInt(alphabet.length())));
                yield b.toString();
            }
            case "newlines" -> "\n \r\n\t ".repeat(40_000);
            case "digits" -> "1234567890".repeat(20_000);
            default -> throw new IllegalArgumentException(kind);
        };
    }

    @ParameterizedTest
    @ValueSource(strings = {"spaces", "letters", "unicode", "nospace", "newlines", "digits"})
    void linearOnEveryTokenizer(String kind) {
        String text = input(kind);
        for (String file :
                new String[] {"gpt2/tokenizer.json", "llama3/tokenizer.json", "stories260K-tokenizer.json"}) {
            Tokenizer tok = TokenizerFixtures.load(file);
            long t0 = System.nanoTime();
            int[] ids =
                    assertTimeoutPreemptively(Duration.ofSeconds(10), () -> tok.encode(text, false), kind + " " + file);
            long ms = (System.nanoTime() - t0) / 1_000_000;
            long t1 = System.nanoTime();
            String back = tok.decode(ids);
            long decMs = (System.nanoTime() - t1) / 1_000_000;
            System.out.printf(
                    "pathological %-8s %-28s %8d chars -> %7d ids in %5d ms, decode %4d ms%n",
                    kind, file, text.length(), ids.length, ms, decMs);
            assertTrue(ids.length > 0);
            assertEquals(text, back, kind + " round trip " + file);
        }
    }
}
