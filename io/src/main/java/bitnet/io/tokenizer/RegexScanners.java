package bitnet.io.tokenizer;

import java.util.Arrays;

/**
 * Hand-written, linear-time equivalents of the two pre-tokenization regexes that real tokenizers use:
 * GPT-2's and Llama-3's (plus Qwen2's variant of Llama-3 with single digits). Each scanner walks the
 * code points once and returns the match boundaries, reproducing Oniguruma's leftmost-first
 * alternation and backtracking for these exact patterns. They exist because java.util.regex
 * recurses on alternations of repeated groups and can overflow the stack or backtrack badly on
 * long runs (200k spaces). This is not a general regex engine: any other pattern goes to
 * java.util.regex in {@link PreTokenizers}.
 *
 * <p>Character classes follow Oniguruma's Unicode semantics: {@code \s} is the White_Space
 * property, {@code \p{L}} the letter categories, {@code \p{N}} the number categories.
 */
final class RegexScanners {
    private RegexScanners() {}

    static final String GPT2_PATTERN =
            "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
    static final String LLAMA3_PATTERN =
            "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
    static final String QWEN2_PATTERN =
            "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

    /** Splits a string into consecutive matches; ends[i] is the char index where match i ends. */
    interface Scanner {
        int[] matchEnds(String s);
    }

    /** The scanner for a pattern string from tokenizer.json, or null when it is not one we know. */
    static Scanner forPattern(String pattern) {
        if (GPT2_PATTERN.equals(pattern)) return RegexScanners::gpt2;
        if (LLAMA3_PATTERN.equals(pattern)) return s -> llama3(s, 3);
        if (QWEN2_PATTERN.equals(pattern)) return s -> llama3(s, 1);
        return null;
    }

    static boolean isWhite(int c) {
        return (c >= 0x09 && c <= 0x0D)
                || c == 0x20
                || c == 0x85
                || c == 0xA0
                || c == 0x1680
                || (c >= 0x2000 && c <= 0x200A)
                || c == 0x2028
                || c == 0x2029
                || c == 0x202F
                || c == 0x205F
                || c == 0x3000;
    }

    static boolean isLetter(int c) {
        return Character.isLetter(c);
    }

    static boolean isNumber(int c) {
        int t = Character.getType(c);
        return t == Character.DECIMAL_DIGIT_NUMBER || t == Character.LETTER_NUMBER || t == Character.OTHER_NUMBER;
    }

    /** Neither whitespace, letter nor number: {@code [^\s\p{L}\p{N}]}. */
    static boolean isOther(int c) {
        return !isWhite(c) && !isLetter(c) && !isNumber(c);
    }

    // Code points of s, decoded once so the scanners can look ahead cheaply.
    private static int[] codePoints(String s) {
        return s.codePoints().toArray();
    }

    /** Converts code-point match ends to char-index ends. */
    private static int[] toCharEnds(int[] cps, int[] ends, int n) {
        int[] out = new int[n];
        int ci = 0, cp = 0;
        for (int k = 0; k < n; k++) {
            while (cp < ends[k]) {
                ci += Character.charCount(cps[cp++]);
            }
            out[k] = ci;
        }
        return out;
    }

    private static int[] push(int[] ends, int n, int v) {
        if (n == ends.length) ends = Arrays.copyOf(ends, Math.max(16, n * 2));
        ends[n] = v;
        return ends;
    }

    /** End of the run of code points from i satisfying the class (exclusive). */
    private static int runLetters(int[] c, int i) {
        while (i < c.length && isLetter(c[i])) i++;
        return i;
    }

    private static int runNumbers(int[] c, int i) {
        while (i < c.length && isNumber(c[i])) i++;
        return i;
    }

    private static int runOther(int[] c, int i) {
        while (i < c.length && isOther(c[i])) i++;
        return i;
    }

    private static int runWhite(int[] c, int i) {
        while (i < c.length && isWhite(c[i])) i++;
        return i;
    }

    /** {@code \s+(?!\S)|\s+} at i (c[i] is whitespace): the run, minus its last char when a non-space follows. */
    private static int whiteTail(int[] c, int i) {
        int j = runWhite(c, i);
        if (j == c.length) return j;
        return j - 1 > i ? j - 1 : j;
    }

    static int[] gpt2(String s) {
        int[] c = codePoints(s);
        int n = c.length;
        int[] ends = new int[Math.max(16, n / 4)];
        int m = 0;
        int i = 0;
        while (i < n) {
            int cp = c[i];
            int end = -1;
            if (cp == '\'' && i + 1 < n) {
                int a = c[i + 1];
                if (a == 's' || a == 't' || a == 'm' || a == 'd') {
                    end = i + 2;
                } else if (i + 2 < n) {
                    int b = c[i + 2];
                    if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) end = i + 3;
                }
            }
            if (end < 0) {
                int j = (cp == ' ' && i + 1 < n) ? i + 1 : i; // optional leading space
                int d = c[j];
                if (isLetter(d)) {
                    end = runLetters(c, j);
                } else if (isNumber(d)) {
                    end = runNumbers(c, j);
                } else if (isOther(d)) {
                    end = runOther(c, j);
                } else {
                    end = whiteTail(c, i);
                }
            }
            ends = push(ends, m++, end);
            i = end;
        }
        return toCharEnds(c, ends, m);
    }

    private static boolean ci(int c, char lower) {
        return c == lower || c == Character.toUpperCase(lower) || (lower == 's' && c == 0x17F);
    }

    static int[] llama3(String s, int maxDigits) {
        int[] c = codePoints(s);
        int n = c.length;
        int[] ends = new int[Math.max(16, n / 4)];
        int m = 0;
        int i = 0;
        while (i < n) {
            int cp = c[i];
            int end = -1;
            // (?i:'s|'t|'re|'ve|'m|'ll|'d)
            if (cp == '\'' && i + 1 < n) {
                int a = c[i + 1];
                if (ci(a, 's') || ci(a, 't') || ci(a, 'm') || ci(a, 'd')) {
                    end = i + 2;
                } else if (i + 2 < n) {
                    int b = c[i + 2];
                    if ((ci(a, 'r') && ci(b, 'e')) || (ci(a, 'v') && ci(b, 'e')) || (ci(a, 'l') && ci(b, 'l'))) {
                        end = i + 3;
                    }
                }
            }
            // [^\r\n\p{L}\p{N}]?\p{L}+
            if (end < 0) {
                if (isLetter(cp)) {
                    end = runLetters(c, i);
                } else if (cp != '\r' && cp != '\n' && !isNumber(cp) && i + 1 < n && isLetter(c[i + 1])) {
                    end = runLetters(c, i + 1);
                }
            }
            // \p{N}{1,maxDigits}
            if (end < 0 && isNumber(cp)) {
                int j = i;
                while (j < n && j - i < maxDigits && isNumber(c[j])) j++;
                end = j;
            }
            //  ?[^\s\p{L}\p{N}]+[\r\n]*
            if (end < 0) {
                int j = (cp == ' ' && i + 1 < n && isOther(c[i + 1])) ? i + 1 : i;
                if (isOther(c[j])) {
                    j = runOther(c, j);
                    while (j < n && (c[j] == '\r' || c[j] == '\n')) j++;
                    end = j;
                }
            }
            if (end < 0) {
                // c[i] is whitespace here. \s*[\r\n]+ : up to and including the run's last \r or \n.
                int j = runWhite(c, i);
                int lastNl = -1;
                for (int k = j - 1; k >= i; k--) {
                    if (c[k] == '\r' || c[k] == '\n') {
                        lastNl = k;
                        break;
                    }
                }
                end = lastNl >= 0 ? lastNl + 1 : whiteTail(c, i);
            }
            ends = push(ends, m++, end);
            i = end;
        }
        return toCharEnds(c, ends, m);
    }
}
