package bitnet.io.tokenizer;

import bitnet.io.BadInputException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Reads tokenizer.json in one pass over its UTF-8 bytes. The model's vocab and merges (99% of
 * the bytes: 33 MB for Gemma 3) are scanned here, straight into a {@link VocabMap} and pairs of
 * vocab entries, each merge string looked up from a reused char buffer; every other value is
 * small, and its byte range goes to Jackson as a tree for the component parsers. What this
 * replaces, a Jackson tree of the whole file (1.3 M nodes and 262,144 interned field names for
 * Gemma 3), took seconds. This is a JSON scanner for those two values only: any syntax it does
 * not expect there is a BadInputException naming the file, and everything else is validated by
 * Jackson.
 */
final class TokenizerJson {
    static final ObjectMapper MAPPER =
            new ObjectMapper().enable(com.fasterxml.jackson.databind.DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

    /**
     * The file as read. root: every top-level value but "model" (which is present, as null, when
     * the file has one); model: the model's fields but vocab and merges (a vocab or merges of
     * another JSON type stays in it, for the error message); byId: the vocab's token per id (a
     * later token of the same id wins).
     */
    record Parsed(ObjectNode root, ObjectNode model, VocabMap vocab, String[] byId, Merges merges) {}

    /**
     * Merges in file order as ids (left, right, merged), the merged id found with the
     * continuing_subword_prefix known when they were read; or as strings, when no vocab came
     * before them or the vocab shares hashes or ids (never in HF's own files).
     */
    static final class Merges {
        int n;
        int[] left = new int[1024], right = new int[1024], merged = new int[1024];
        String prefix = ""; // the continuing_subword_prefix merged was found with
        List<String[]> strings;

        void add(int l, int r, int m) {
            if (n == left.length) {
                left = Arrays.copyOf(left, n * 2);
                right = Arrays.copyOf(right, n * 2);
                merged = Arrays.copyOf(merged, n * 2);
            }
            left[n] = l;
            right[n] = r;
            merged[n++] = m;
        }
    }

    private static final java.lang.invoke.VarHandle LONGS =
            java.lang.invoke.MethodHandles.byteArrayViewVarHandle(long[].class, java.nio.ByteOrder.LITTLE_ENDIAN);

    private final byte[] b;
    private final Path file;
    private int pos;
    private char[] buf = new char[256]; // the last string read by chars()

    private TokenizerJson(byte[] json, Path file) {
        this.b = json;
        this.file = file;
    }

    static Parsed read(byte[] json, Path file) throws IOException {
        return new TokenizerJson(json, file).document();
    }

    /** The tree of a small JSON file (tokenizer_config.json). */
    static JsonNode readTree(java.io.File f) throws IOException {
        return MAPPER.readTree(f);
    }

    private Parsed document() throws IOException {
        if (b.length >= 3 && (b[0] & 0xFF) == 0xEF && (b[1] & 0xFF) == 0xBB && (b[2] & 0xFF) == 0xBF) pos = 3; // BOM
        if (ws() != '{') throw bad("tokenizer JSON is not an object");
        pos++;
        ObjectNode root = JsonNodeFactory.instance.objectNode();
        Parsed model = null;
        for (boolean first = true; ; first = false) {
            String name = nextName(first);
            if (name == null) break;
            if (name.equals("model") && ws() == '{') {
                model = model(root);
                root.putNull("model");
            } else {
                root.set(name, tree());
            }
        }
        if (ws() != -1) throw bad("invalid tokenizer JSON: content after the top-level object");
        return model != null ? model : new Parsed(root, null, null, null, null);
    }

    private Parsed model(ObjectNode root) throws IOException {
        pos++; // '{'
        ObjectNode meta = JsonNodeFactory.instance.objectNode();
        VocabMap vocab = null;
        String[] byId = null;
        Merges merges = null;
        for (boolean first = true; ; first = false) {
            String name = nextName(first);
            if (name == null) break;
            if (name.equals("vocab") && ws() == '{') {
                vocab = new VocabMap(1 << 16);
                vocab(vocab);
                byId = vocab.tokensById();
            } else if (name.equals("merges") && ws() == '[') {
                JsonNode pre = meta.get("continuing_subword_prefix");
                merges = merges(vocab, pre == null || pre.isNull() ? "" : pre.asText());
            } else {
                meta.set(name, tree());
            }
        }
        return new Parsed(root, meta, vocab, byId, merges);
    }

    private void vocab(VocabMap vocab) {
        pos++; // '{'
        for (boolean first = true; ; first = false) {
            if (!nextMember(first, '}')) break;
            int len = chars();
            if (len > BpeModel.MAX_TOKEN_CHARS) {
                throw bad("BPE vocab token of " + len + " chars exceeds the limit of " + BpeModel.MAX_TOKEN_CHARS);
            }
            String tok = new String(buf, 0, len);
            colon();
            long id = ws() == '-' ? -1 : integer();
            if (id < 0) throw bad("BPE vocab id of '" + abbreviate(tok) + "' is not a non-negative int");
            if (id > BpeModel.MAX_ID) throw bad("BPE vocab id " + id + " exceeds the limit of " + BpeModel.MAX_ID);
            vocab.put(tok, (int) id);
        }
    }

    private Merges merges(VocabMap vocab, String prefix) {
        pos++; // '['
        Merges m = new Merges();
        m.prefix = prefix;
        if (vocab == null || !vocab.isUnique()) m.strings = new ArrayList<>();
        for (int r = 0; nextMember(r == 0, ']'); r++) {
            int c = ws();
            int sa, la, sb, lb; // the two parts in buf
            if (c == '"') { // "a b": split at the first space after the first char
                int len = chars();
                int sp = -1;
                for (int k = 1; k < len; k++) {
                    if (buf[k] == ' ') {
                        sp = k;
                        break;
                    }
                }
                if (sp < 0) throw bad("BPE merge " + r + " '" + abbreviate(new String(buf, 0, len)) + "' is not 'a b'");
                sa = 0;
                la = sp;
                sb = sp + 1;
                lb = len - sp - 1;
            } else if (c == '[') { // ["a", "b"]: b is read into buf after a
                pos++;
                if (ws() != '"') throw notAPair(r);
                la = chars();
                if (ws() != ',') throw notAPair(r);
                pos++;
                if (ws() != '"') throw notAPair(r);
                int lbb = charsAt(la);
                if (ws() != ']') throw notAPair(r);
                pos++;
                sa = 0;
                sb = la;
                lb = lbb;
            } else {
                throw notAPair(r);
            }
            if (m.strings != null) {
                m.strings.add(new String[] {new String(buf, sa, la), new String(buf, sb, lb)});
                continue;
            }
            long ha = VocabMap.hash(buf, sa, la), hb = VocabMap.hash(buf, sb, lb);
            int a = vocab.idOfPresent(ha), b = vocab.idOfPresent(hb);
            // the merged token: a + b, less b's continuing_subword_prefix
            int cut = !prefix.isEmpty() && lb >= prefix.length() && startsWith(buf, sb, prefix) ? prefix.length() : 0;
            int mm = a < 0 || b < 0
                    ? -1
                    : vocab.idOfPresent(
                            VocabMap.join(ha, cut == 0 ? hb : VocabMap.hash(buf, sb + cut, lb - cut), lb - cut));
            if (mm < 0) throw notInVocab(file, r, new String(buf, sa, la), new String(buf, sb, lb));
            m.add(a, b, mm);
        }
        return m;
    }

    private static boolean startsWith(char[] buf, int off, String p) {
        for (int k = 0; k < p.length(); k++) if (buf[off + k] != p.charAt(k)) return false;
        return true;
    }

    // ---- the scanner ----

    /** Next byte after whitespace (pos left on it), or -1 at the end. */
    private int ws() {
        // pretty-printed files are mostly indentation: skip eight spaces at a time
        while (pos + 8 <= b.length && (long) LONGS.get(b, pos) == 0x2020202020202020L) pos += 8;
        while (pos < b.length) {
            int c = b[pos];
            if (c != ' ' && c != '\n' && c != '\r' && c != '\t') return c & 0xFF;
            pos++;
        }
        return -1;
    }

    /** Past the separator before the next member of an object or array: false at its end. */
    private boolean nextMember(boolean first, char close) {
        int c = ws();
        if (c == close) {
            pos++;
            return false;
        }
        if (!first) {
            if (c != ',') throw bad("invalid tokenizer JSON at byte " + pos + ": expected ',' or '" + close + "'");
            pos++;
            ws();
        }
        return true;
    }

    /** The next member name of an object (and its colon), or null at the object's end. */
    private String nextName(boolean first) {
        if (!nextMember(first, '}')) return null;
        int len = chars();
        colon();
        return new String(buf, 0, len);
    }

    private void colon() {
        if (ws() != ':') throw bad("invalid tokenizer JSON at byte " + pos + ": expected ':'");
        pos++;
    }

    /** A JSON string at pos into buf (UTF-16, escapes resolved); returns its length. */
    private int chars() {
        return charsAt(0);
    }

    /** A JSON string at pos into buf from index start; returns its length. */
    private int charsAt(int start) {
        if (ws() != '"') throw bad("invalid tokenizer JSON at byte " + pos + ": expected a string");
        pos++;
        int n = start;
        while (true) {
            if (pos >= b.length) throw bad("invalid tokenizer JSON: unterminated string");
            if (n + 2 > buf.length) {
                if (buf.length > (BpeModel.MAX_TOKEN_CHARS + 1) * 64) {
                    throw bad("a JSON string of more than " + buf.length
                            + " chars exceeds the maximum length of a name or token");
                }
                buf = Arrays.copyOf(buf, buf.length * 2);
            }
            int c = b[pos++];
            if (c == '"') return n - start;
            if (c >= 0x20 && c != '\\') { // ASCII
                buf[n++] = (char) c;
            } else if (c == '\\') {
                n = escape(n);
            } else if (c >= 0) {
                throw bad("invalid tokenizer JSON at byte " + (pos - 1) + ": control character in a string");
            } else {
                n = utf8(c & 0xFF, n);
            }
        }
    }

    private int escape(int n) {
        if (pos >= b.length) throw bad("invalid tokenizer JSON: unterminated string");
        int e = b[pos++];
        switch (e) {
            case '"', '\\', '/' -> buf[n++] = (char) e;
            case 'b' -> buf[n++] = '\b';
            case 'f' -> buf[n++] = '\f';
            case 'n' -> buf[n++] = '\n';
            case 'r' -> buf[n++] = '\r';
            case 't' -> buf[n++] = '\t';
            case 'u' -> {
                if (pos + 4 > b.length) throw bad("invalid tokenizer JSON: truncated \\u escape");
                int v = 0;
                for (int k = 0; k < 4; k++) {
                    int d = Character.digit(b[pos++], 16);
                    if (d < 0) throw bad("invalid tokenizer JSON at byte " + (pos - 1) + ": bad \\u escape");
                    v = v << 4 | d;
                }
                buf[n++] = (char) v; // surrogate halves are kept as is, as Jackson does
            }
            default -> throw bad("invalid tokenizer JSON at byte " + (pos - 1) + ": bad escape");
        }
        return n;
    }

    /** Decodes one multi-byte UTF-8 sequence whose lead byte is c. */
    private int utf8(int c, int n) {
        int need, cp;
        if (c >= 0xC2 && c <= 0xDF) {
            need = 1;
            cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            need = 2;
            cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3;
            cp = c & 0x07;
        } else {
            throw bad("invalid UTF-8 at byte " + (pos - 1));
        }
        if (pos + need > b.length) throw bad("invalid UTF-8 at byte " + (pos - 1));
        for (int k = 0; k < need; k++) {
            int cc = b[pos++];
            if ((cc & 0xC0) != 0x80) throw bad("invalid UTF-8 at byte " + (pos - 1));
            cp = cp << 6 | (cc & 0x3F);
        }
        if ((need == 2 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF)))
                || (need == 3 && (cp < 0x10000 || cp > 0x10FFFF))) {
            throw bad("invalid UTF-8 at byte " + (pos - 1 - need));
        }
        if (cp >= 0x10000) {
            buf[n++] = Character.highSurrogate(cp);
            buf[n++] = Character.lowSurrogate(cp);
        } else {
            buf[n++] = (char) cp;
        }
        return n;
    }

    /** A non-negative JSON integer at pos; -1 when the number is not one (fraction, exponent, over 2^53). */
    private long integer() {
        int start = pos;
        long v = 0;
        while (pos < b.length && b[pos] >= '0' && b[pos] <= '9') {
            if (v > (1L << 53)) v = -1 - (1L << 62); // stays negative: too big
            else v = v * 10 + (b[pos] - '0');
            pos++;
        }
        if (pos == start) throw bad("invalid tokenizer JSON at byte " + pos + ": expected a number");
        if (pos < b.length && (b[pos] == '.' || b[pos] == 'e' || b[pos] == 'E')) return -1;
        return v < 0 ? -1 : v;
    }

    /** The value at pos as a Jackson tree (a small one: everything but vocab and merges). */
    private JsonNode tree() throws IOException {
        int start = pos;
        skipValue();
        if (pos == start) throw bad("invalid tokenizer JSON at byte " + pos + ": expected a value");
        return MAPPER.readTree(b, start, pos - start);
    }

    /** Past one value; strings and nesting are tracked, everything else is left to Jackson. */
    private void skipValue() {
        int depth = 0;
        ws();
        do {
            if (pos >= b.length) throw bad("invalid tokenizer JSON: unexpected end of file");
            int c = b[pos];
            if (c == '"') {
                pos++;
                while (true) {
                    if (pos >= b.length) throw bad("invalid tokenizer JSON: unterminated string");
                    int d = b[pos++];
                    if (d == '\\') pos++;
                    else if (d == '"') break;
                }
                continue;
            }
            if (c == '{' || c == '[') depth++;
            else if (c == '}' || c == ']') depth--;
            else if ((c == ',' || c == ':') && depth == 0) break;
            pos++;
            if (depth < 0) throw bad("invalid tokenizer JSON at byte " + (pos - 1) + ": unbalanced '" + (char) c + "'");
        } while (depth > 0 || !atValueEnd());
        ws();
    }

    /** At depth 0: the value ended when what follows is a separator, a closer or the end. */
    private boolean atValueEnd() {
        int c = ws();
        return c == -1 || c == ',' || c == '}' || c == ']';
    }

    private BadInputException bad(String msg) {
        return new BadInputException(file, msg);
    }

    static BadInputException notInVocab(Path file, int r, String a, String b) {
        return new BadInputException(
                file,
                "BPE merge " + r + " (" + abbreviate(a) + ", " + abbreviate(b) + ") uses a token not in the vocab");
    }

    private BadInputException notAPair(int r) {
        return new BadInputException(file, "BPE merge " + r + " is neither 'a b' nor [a, b]");
    }

    static String abbreviate(String s) {
        return s.length() <= 200 ? s : s.substring(0, 200) + "...";
    }
}
