package bitnet.io.tokenizer;

import bitnet.io.BadInputException;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * tokenizer.json decoders, each a function from a list of token strings to a list of strings
 * (HF's decode_chain): ByteLevel, Metaspace, Sequence, Replace, ByteFallback, Fuse, Strip,
 * BPEDecoder, WordPiece. The caller joins the final list with "". Unsupported types (CTC) are a
 * BadInputException.
 */
final class Decoders {
    private Decoders() {}

    interface Decoder {
        List<String> apply(List<String> tokens);
    }

    static Decoder parse(JsonNode n, Path file) {
        if (n == null || n.isNull()) return null;
        String type = n.path("type").asText("");
        switch (type) {
            case "Sequence" -> {
                List<Decoder> parts = new ArrayList<>();
                for (JsonNode c : n.path("decoders")) parts.add(parse(c, file));
                return toks -> {
                    for (Decoder d : parts) if (d != null) toks = d.apply(toks);
                    return toks;
                };
            }
            case "ByteLevel" -> {
                return Decoders::byteLevel;
            }
            case "Metaspace" -> {
                String rep = n.path("replacement").asText("\u2581");
                boolean stripFirst;
                if (n.hasNonNull("prepend_scheme")) {
                    stripFirst = !n.get("prepend_scheme").asText().equals("never");
                } else {
                    stripFirst = n.path("add_prefix_space").asBoolean(true);
                }
                return toks -> {
                    List<String> out = new ArrayList<>(toks.size());
                    for (int i = 0; i < toks.size(); i++) {
                        // HF drops every replacement char of the first token, not only the leading one.
                        out.add(toks.get(i).replace(rep, i == 0 && stripFirst ? "" : " "));
                    }
                    return out;
                };
            }
            case "Replace" -> {
                String content = n.path("content").asText();
                JsonNode p = n.path("pattern");
                if (p.has("String")) {
                    String lit = p.get("String").asText();
                    return toks -> toks.stream()
                            .map(t -> lit.isEmpty() ? t : t.replace(lit, content))
                            .toList();
                }
                if (p.has("Regex")) {
                    Pattern re = Normalizers.compile(p.get("Regex").asText(), file, "Replace decoder");
                    String repl = Matcher.quoteReplacement(content);
                    return toks -> toks.stream()
                            .map(t -> re.matcher(t).replaceAll(repl))
                            .toList();
                }
                throw new BadInputException(file, "Replace decoder without String or Regex pattern");
            }
            case "ByteFallback" -> {
                return Decoders::byteFallback;
            }
            case "Fuse" -> {
                return toks -> List.of(String.join("", toks));
            }
            case "Strip" -> {
                String content = n.path("content").asText(" ");
                int start = n.path("start").asInt(0), stop = n.path("stop").asInt(0);
                if (content.codePointCount(0, content.length()) != 1) {
                    throw new BadInputException(file, "Strip decoder content must be one char: '" + content + "'");
                }
                int ch = content.codePointAt(0);
                return toks -> toks.stream().map(t -> strip(t, ch, start, stop)).toList();
            }
            case "BPEDecoder" -> { // the end-of-word suffix becomes a space, except on the last token
                String suffix = n.path("suffix").asText("</w>");
                return toks -> {
                    List<String> out = new ArrayList<>(toks.size());
                    for (int i = 0; i < toks.size(); i++)
                        out.add(toks.get(i).replace(suffix, i == toks.size() - 1 ? "" : " "));
                    return out;
                };
            }
            case "WordPiece" -> {
                String prefix = n.path("prefix").asText("##");
                boolean cleanup = n.path("cleanup").asBoolean(true);
                return toks -> {
                    List<String> out = new ArrayList<>(toks.size());
                    for (int i = 0; i < toks.size(); i++) {
                        String t = toks.get(i);
                        if (i != 0) t = t.startsWith(prefix) ? t.substring(prefix.length()) : " " + t;
                        out.add(cleanup ? wordPieceCleanup(t) : t);
                    }
                    return out;
                };
            }
            default -> throw new BadInputException(file, "unsupported decoder type '" + type + "'");
        }
    }

    /** HF's cleanup of tokenization spaces (decoders::wordpiece::cleanup). */
    static String wordPieceCleanup(String t) {
        return t.replace(" .", ".")
                .replace(" ?", "?")
                .replace(" !", "!")
                .replace(" ,", ",")
                .replace(" ' ", "'")
                .replace(" n't", "n't")
                .replace(" 'm", "'m")
                .replace(" do not", " don't")
                .replace(" 's", "'s")
                .replace(" 've", "'ve")
                .replace(" 're", "'re");
    }

    /** Table chars back to bytes; a token with a char outside the table contributes its own UTF-8 bytes. */
    static List<String> byteLevel(List<String> toks) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        for (String t : toks) {
            byte[] mine = new byte[t.length()];
            int k = 0;
            boolean ok = true;
            for (int i = 0; i < t.length() && ok; i++) {
                int b = ByteLevel.byteOf(t.charAt(i));
                if (b < 0) ok = false;
                else mine[k++] = (byte) b;
            }
            if (ok) bytes.write(mine, 0, k);
            else bytes.writeBytes(t.getBytes(StandardCharsets.UTF_8));
        }
        return List.of(new String(bytes.toByteArray(), StandardCharsets.UTF_8));
    }

    /** Runs of "<0xXX>" tokens become their UTF-8 text, or one U+FFFD per byte when invalid. */
    static List<String> byteFallback(List<String> toks) {
        List<String> out = new ArrayList<>(toks.size());
        ByteArrayOutputStream pending = new ByteArrayOutputStream();
        for (String t : toks) {
            int b = byteToken(t);
            if (b >= 0) {
                pending.write(b);
                continue;
            }
            flush(pending, out);
            out.add(t);
        }
        flush(pending, out);
        return out;
    }

    private static int byteToken(String t) {
        if (t.length() != 6 || !t.startsWith("<0x") || !t.endsWith(">")) return -1;
        try {
            return Integer.parseInt(t.substring(3, 5), 16);
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    private static void flush(ByteArrayOutputStream pending, List<String> out) {
        if (pending.size() == 0) return;
        byte[] b = pending.toByteArray();
        pending.reset();
        var dec = StandardCharsets.UTF_8.newDecoder(); // REPORT on malformed input by default
        try {
            out.add(dec.decode(java.nio.ByteBuffer.wrap(b)).toString());
        } catch (java.nio.charset.CharacterCodingException e) {
            for (int i = 0; i < b.length; i++) out.add("\uFFFD");
        }
    }

    static String strip(String t, int ch, int start, int stop) {
        int a = 0, e = t.length();
        for (int k = 0; k < start && a < e && t.codePointAt(a) == ch; k++) a += Character.charCount(ch);
        for (int k = 0; k < stop && e > a && t.codePointBefore(e) == ch; k++) e -= Character.charCount(ch);
        return t.substring(a, e);
    }
}
