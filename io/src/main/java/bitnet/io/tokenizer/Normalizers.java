package bitnet.io.tokenizer;

import bitnet.io.BadInputException;
import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.text.Normalizer.Form;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * tokenizer.json normalizers as plain string functions: Sequence, Prepend, Replace, NFC, NFD,
 * NFKC, NFKD, Lowercase, Strip, StripAccents, Nmt, ByteLevel. Offsets (alignments) are not tracked: the engine only
 * needs ids. Unsupported types (BertNormalizer, Precompiled, ...) are a BadInputException.
 */
final class Normalizers {
    private Normalizers() {}

    interface Normalizer {
        String apply(String s);
    }

    static Normalizer parse(JsonNode n, Path file) {
        if (n == null || n.isNull()) return null;
        String type = n.path("type").asText("");
        switch (type) {
            case "Sequence" -> {
                List<Normalizer> parts = new ArrayList<>();
                for (JsonNode c : n.path("normalizers")) parts.add(parse(c, file));
                return s -> {
                    for (Normalizer p : parts) if (p != null) s = p.apply(s);
                    return s;
                };
            }
            case "Prepend" -> {
                String pre = n.path("prepend").asText();
                // HF's NormalizedString::prepend does nothing on an empty string.
                return s -> s.isEmpty() ? s : pre + s;
            }
            case "Replace" -> {
                String content = n.path("content").asText();
                JsonNode p = n.path("pattern");
                if (p.has("String")) {
                    String lit = p.get("String").asText();
                    return s -> lit.isEmpty() ? s : s.replace(lit, content);
                }
                if (p.has("Regex")) {
                    Pattern re = compile(p.get("Regex").asText(), file, "Replace normalizer");
                    String repl = Matcher.quoteReplacement(content);
                    return s -> re.matcher(s).replaceAll(repl);
                }
                throw new BadInputException(file, "Replace normalizer without String or Regex pattern");
            }
            case "NFC" -> {
                return s -> java.text.Normalizer.normalize(s, Form.NFC);
            }
            case "NFD" -> {
                return s -> java.text.Normalizer.normalize(s, Form.NFD);
            }
            case "NFKC" -> {
                return s -> java.text.Normalizer.normalize(s, Form.NFKC);
            }
            case "NFKD" -> {
                return s -> java.text.Normalizer.normalize(s, Form.NFKD);
            }
            case "Lowercase" -> {
                return Normalizers::lowercase;
            }
            case "Strip" -> {
                boolean left = n.path("strip_left").asBoolean(true),
                        right = n.path("strip_right").asBoolean(true);
                return s -> strip(s, left, right);
            }
            case "StripAccents" -> {
                return s -> {
                    StringBuilder b = new StringBuilder(s.length());
                    s.codePoints()
                            .filter(c -> Character.getType(c) != Character.NON_SPACING_MARK)
                            .forEach(b::appendCodePoint);
                    return b.toString();
                };
            }
            case "Nmt" -> {
                return Normalizers::nmt;
            }
            case "ByteLevel" -> {
                return ByteLevel::encode;
            }
            default -> throw new BadInputException(file, "unsupported normalizer type '" + type + "'");
        }
    }

    /** HF's Nmt: drops C0 controls (but tab, LF, FF, CR), DEL, U+008F, U+009F; turns odd spaces into ' '. */
    static String nmt(String s) {
        StringBuilder b = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if ((c >= 0x01 && c <= 0x08)
                    || c == 0x0B
                    || (c >= 0x0E && c <= 0x1F)
                    || c == 0x7F
                    || c == 0x8F
                    || c == 0x9F) continue;
            boolean space = c == 0x09
                    || c == 0x0A
                    || c == 0x0C
                    || c == 0x0D
                    || c == 0x1680
                    || (c >= 0x200B && c <= 0x200F)
                    || c == 0x2028
                    || c == 0x2029
                    || c == 0x2581
                    || c == 0xFEFF
                    || c == 0xFFFD;
            b.append(space ? ' ' : c);
        }
        return b.toString();
    }

    /** Per-code-point full lowercase mapping (Rust's char::to_lowercase; no final-sigma context). */
    static String lowercase(String s) {
        StringBuilder b = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); ) {
            int cp = s.codePointAt(i);
            i += Character.charCount(cp);
            if (cp < 0x80) {
                b.append((char) (cp >= 'A' && cp <= 'Z' ? cp + 32 : cp));
            } else {
                b.append(new String(Character.toChars(cp)).toLowerCase(Locale.ROOT));
            }
        }
        return b.toString();
    }

    static String strip(String s, boolean left, boolean right) {
        int a = 0, e = s.length();
        if (left) {
            while (a < e && RegexScanners.isWhite(s.codePointAt(a))) a += Character.charCount(s.codePointAt(a));
        }
        if (right) {
            while (e > a && RegexScanners.isWhite(s.codePointBefore(e))) e -= Character.charCount(s.codePointBefore(e));
        }
        return s.substring(a, e);
    }

    static Pattern compile(String regex, Path file, String where) {
        try {
            return Pattern.compile(regex, Pattern.UNICODE_CHARACTER_CLASS);
        } catch (RuntimeException e) {
            throw new BadInputException(file, where + " regex does not compile: " + regex, e);
        }
    }
}
