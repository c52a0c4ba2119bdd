package bitnet.io.tokenizer;

import bitnet.io.BadInputException;
import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * tokenizer.json pre-tokenizers: ByteLevel (add_prefix_space, use_regex), Split (String or Regex
 * pattern, all five delimiter behaviors, invert), Sequence, Metaspace (replacement,
 * prepend_scheme first/always/never, split), Digits, Whitespace, WhitespaceSplit, Punctuation,
 * BertPreTokenizer, CharDelimiterSplit, FixedLength.
 * GPT-2 / Llama-3 / Qwen2 split regexes run on the linear scanners of {@link RegexScanners};
 * other regexes fall back to java.util.regex with a logged warning. Offsets are not tracked,
 * except whether a piece starts at offset 0 of the input (Metaspace's "first" scheme needs it).
 */
final class PreTokenizers {
    private PreTokenizers() {}

    private static final System.Logger LOG = System.getLogger(PreTokenizers.class.getName());

    /** A pre-token; atStart: it begins at offset 0 of the original input. */
    record Piece(String text, boolean atStart) {}

    interface PreTokenizer {
        void apply(Piece p, List<Piece> out);
    }

    enum Behavior {
        REMOVED,
        ISOLATED,
        MERGED_WITH_PREVIOUS,
        MERGED_WITH_NEXT,
        CONTIGUOUS
    }

    /** Finds matches of a pattern: writes [start, end) pairs into spans, returns their count. */
    interface Matches {
        int find(String s, IntList spans);
    }

    static List<Piece> run(PreTokenizer pt, List<Piece> in) {
        if (pt == null) return in;
        List<Piece> out = new ArrayList<>(in.size() * 2);
        for (Piece p : in) pt.apply(p, out);
        return out;
    }

    static PreTokenizer parse(JsonNode n, Path file) {
        if (n == null || n.isNull()) return null;
        String type = n.path("type").asText("");
        switch (type) {
            case "Sequence" -> {
                List<PreTokenizer> parts = new ArrayList<>();
                for (JsonNode c : n.path("pretokenizers")) parts.add(parse(c, file));
                return (p, out) -> {
                    List<Piece> cur = List.of(p);
                    for (PreTokenizer t : parts) cur = run(t, cur);
                    out.addAll(cur);
                };
            }
            case "ByteLevel" -> {
                boolean prefixSpace = n.path("add_prefix_space").asBoolean(true);
                boolean useRegex = n.path("use_regex").asBoolean(true);
                Matches gpt2 = scannerMatches(RegexScanners.forPattern(RegexScanners.GPT2_PATTERN));
                return (p, out) -> {
                    String s = p.text();
                    if (prefixSpace && !s.isEmpty() && !s.startsWith(" ")) s = " " + s;
                    List<Piece> parts = new ArrayList<>();
                    if (useRegex) {
                        split(new Piece(s, p.atStart()), gpt2, Behavior.ISOLATED, false, parts);
                    } else {
                        parts.add(new Piece(s, p.atStart()));
                    }
                    for (Piece q : parts) out.add(new Piece(ByteLevel.encode(q.text()), q.atStart()));
                };
            }
            case "Split" -> {
                Behavior b = behavior(n.path("behavior").asText(""), file);
                boolean invert = n.path("invert").asBoolean(false);
                Matches m = patternMatches(n.path("pattern"), file);
                return (p, out) -> split(p, m, b, invert, out);
            }
            case "Metaspace" -> {
                String rep = n.path("replacement").asText("\u2581");
                if (rep.codePointCount(0, rep.length()) != 1) {
                    throw new BadInputException(file, "Metaspace replacement must be one char: '" + rep + "'");
                }
                String scheme;
                if (n.hasNonNull("prepend_scheme")) {
                    scheme = n.get("prepend_scheme").asText();
                } else {
                    scheme = n.path("add_prefix_space").asBoolean(true) ? "always" : "never";
                }
                if (!scheme.equals("first") && !scheme.equals("always") && !scheme.equals("never")) {
                    throw new BadInputException(file, "unsupported Metaspace prepend_scheme '" + scheme + "'");
                }
                boolean doSplit = n.path("split").asBoolean(true);
                Matches onRep = literalMatches(rep);
                return (p, out) -> {
                    String s = p.text().replace(" ", rep);
                    boolean prepend = scheme.equals("always") || (scheme.equals("first") && p.atStart());
                    if (prepend && !s.isEmpty() && !s.startsWith(rep)) s = rep + s;
                    Piece q = new Piece(s, p.atStart());
                    if (doSplit) {
                        split(q, onRep, Behavior.MERGED_WITH_NEXT, false, out);
                    } else if (!s.isEmpty()) {
                        out.add(q);
                    }
                };
            }
            case "Digits" -> {
                boolean individual = n.path("individual_digits").asBoolean(false);
                Matches digits = classMatches(RegexScanners::isNumber);
                Behavior b = individual ? Behavior.ISOLATED : Behavior.CONTIGUOUS;
                return (p, out) -> split(p, digits, b, false, out);
            }
            case "Whitespace" -> {
                Matches words = regexMatches(Pattern.compile("\\w+|[^\\w\\s]+", Pattern.UNICODE_CHARACTER_CLASS));
                return (p, out) -> split(p, words, Behavior.REMOVED, true, out);
            }
            case "WhitespaceSplit" -> {
                Matches ws = classMatches(RegexScanners::isWhite);
                return (p, out) -> split(p, ws, Behavior.REMOVED, false, out);
            }
            case "Punctuation" -> {
                Behavior b = n.has("behavior") ? behavior(n.get("behavior").asText(), file) : Behavior.ISOLATED;
                Matches punct = classMatches(PreTokenizers::isPunctuation);
                return (p, out) -> split(p, punct, b, false, out);
            }
            case "BertPreTokenizer" -> { // whitespace removed, then each punctuation char on its own
                Matches ws = classMatches(RegexScanners::isWhite);
                Matches punct = classMatches(PreTokenizers::isPunctuation);
                return (p, out) -> {
                    List<Piece> words = new ArrayList<>();
                    split(p, ws, Behavior.REMOVED, false, words);
                    for (Piece w : words) split(w, punct, Behavior.ISOLATED, false, out);
                };
            }
            case "CharDelimiterSplit" -> {
                String d = n.path("delimiter").asText("");
                if (d.codePointCount(0, d.length()) != 1)
                    throw new BadInputException(file, "CharDelimiterSplit delimiter must be one char: '" + d + "'");
                Matches m = literalMatches(d);
                return (p, out) -> split(p, m, Behavior.REMOVED, false, out);
            }
            case "FixedLength" -> {
                int len = n.path("length").asInt(5);
                if (len < 1) throw new BadInputException(file, "FixedLength length must be positive: " + len);
                return (p, out) -> {
                    String s = p.text();
                    for (int i = 0; i < s.length(); ) {
                        int e = s.offsetByCodePoints(i, Math.min(len, s.codePointCount(i, s.length())));
                        out.add(new Piece(s.substring(i, e), p.atStart() && i == 0));
                        i = e;
                    }
                };
            }
            default -> throw new BadInputException(file, "unsupported pre_tokenizer type '" + type + "'");
        }
    }

    static boolean isPunctuation(int c) {
        if (c < 0x80)
            return (c >= 0x21 && c <= 0x2F)
                    || (c >= 0x3A && c <= 0x40)
                    || (c >= 0x5B && c <= 0x60)
                    || (c >= 0x7B && c <= 0x7E);
        int t = Character.getType(c);
        return t == Character.CONNECTOR_PUNCTUATION
                || t == Character.DASH_PUNCTUATION
                || t == Character.START_PUNCTUATION
                || t == Character.END_PUNCTUATION
                || t == Character.INITIAL_QUOTE_PUNCTUATION
                || t == Character.FINAL_QUOTE_PUNCTUATION
                || t == Character.OTHER_PUNCTUATION;
    }

    static Behavior behavior(String s, Path file) {
        return switch (s) {
            case "Removed" -> Behavior.REMOVED;
            case "Isolated" -> Behavior.ISOLATED;
            case "MergedWithPrevious" -> Behavior.MERGED_WITH_PREVIOUS;
            case "MergedWithNext" -> Behavior.MERGED_WITH_NEXT;
            case "Contiguous" -> Behavior.CONTIGUOUS;
            default -> throw new BadInputException(file, "unsupported Split behavior '" + s + "'");
        };
    }

    static Matches patternMatches(JsonNode pattern, Path file) {
        if (pattern.has("String")) return literalMatches(pattern.get("String").asText());
        if (pattern.has("Regex")) {
            String re = pattern.get("Regex").asText();
            RegexScanners.Scanner sc = RegexScanners.forPattern(re);
            if (sc != null) return scannerMatches(sc);
            LOG.log(
                    System.Logger.Level.WARNING,
                    file + ": Split regex is not one of the built-in scanners; "
                            + "using java.util.regex, which may differ from Oniguruma and is slow on pathological input: "
                            + re);
            return regexMatches(Normalizers.compile(re, file, "Split pre_tokenizer"));
        }
        throw new BadInputException(file, "Split pre_tokenizer without String or Regex pattern");
    }

    static Matches scannerMatches(RegexScanners.Scanner sc) {
        return (s, spans) -> {
            int[] ends = sc.matchEnds(s);
            int start = 0;
            for (int e : ends) {
                spans.add(start);
                spans.add(e);
                start = e;
            }
            return ends.length;
        };
    }

    static Matches literalMatches(String lit) {
        return (s, spans) -> {
            if (lit.isEmpty()) return 0;
            int k = 0;
            for (int i = s.indexOf(lit); i >= 0; i = s.indexOf(lit, i + lit.length())) {
                spans.add(i);
                spans.add(i + lit.length());
                k++;
            }
            return k;
        };
    }

    static Matches regexMatches(Pattern re) {
        return (s, spans) -> {
            Matcher m = re.matcher(s);
            int k = 0;
            try {
                while (m.find()) {
                    spans.add(m.start());
                    spans.add(m.end());
                    k++;
                }
            } catch (StackOverflowError e) {
                // java.util.regex recurses per repetition for some patterns; report instead of dying.
                throw new IllegalArgumentException(
                        "input of " + s.length() + " chars is too long for the "
                                + "java.util.regex fallback of pattern " + re.pattern(),
                        e);
            }
            return k;
        };
    }

    /** Every single code point of the class is one match (HF's char-predicate patterns). */
    static Matches classMatches(java.util.function.IntPredicate cls) {
        return (s, spans) -> {
            int k = 0;
            for (int i = 0; i < s.length(); ) {
                int cp = s.codePointAt(i);
                int len = Character.charCount(cp);
                if (cls.test(cp)) {
                    spans.add(i);
                    spans.add(i + len);
                    k++;
                }
                i += len;
            }
            return k;
        };
    }

    /**
     * HF's NormalizedString::split: the string is cut into matched and unmatched spans covering
     * it, invert swaps the two, the behavior decides what is kept and merged; empty pieces are
     * dropped.
     */
    static void split(Piece p, Matches m, Behavior b, boolean invert, List<Piece> out) {
        String s = p.text();
        if (s.isEmpty()) return;
        IntList raw = new IntList(16);
        int count = m.find(s, raw);
        int[] r = raw.toArray();
        // Cover: (start, end, isMatch) triples.
        IntList cover = new IntList(count * 6 + 6);
        int prev = 0;
        for (int k = 0; k < count; k++) {
            int st = r[2 * k], en = r[2 * k + 1];
            if (st > prev) {
                cover.add(prev);
                cover.add(st);
                cover.add(invert ? 1 : 0);
            }
            cover.add(st);
            cover.add(en);
            cover.add(invert ? 0 : 1);
            prev = en;
        }
        if (prev < s.length()) {
            cover.add(prev);
            cover.add(s.length());
            cover.add(invert ? 1 : 0);
        }
        int[] c = cover.toArray();
        int nc = c.length / 3;
        // Result spans: (start, end, remove)
        IntList res = new IntList(nc * 3);
        switch (b) {
            case ISOLATED -> {
                for (int k = 0; k < nc; k++) addSpan(res, c[3 * k], c[3 * k + 1], 0);
            }
            case REMOVED -> {
                for (int k = 0; k < nc; k++) addSpan(res, c[3 * k], c[3 * k + 1], c[3 * k + 2]);
            }
            case CONTIGUOUS -> {
                int prevMatch = -1;
                for (int k = 0; k < nc; k++) {
                    int isMatch = c[3 * k + 2];
                    if (isMatch == prevMatch && res.size() > 0) {
                        res.setInLastTriple(1, c[3 * k + 1]);
                    } else {
                        addSpan(res, c[3 * k], c[3 * k + 1], 0);
                    }
                    prevMatch = isMatch;
                }
            }
            case MERGED_WITH_PREVIOUS -> {
                boolean prevMatch = false;
                for (int k = 0; k < nc; k++) {
                    boolean isMatch = c[3 * k + 2] == 1;
                    if (isMatch && !prevMatch && res.size() > 0) {
                        res.setInLastTriple(1, c[3 * k + 1]);
                    } else {
                        addSpan(res, c[3 * k], c[3 * k + 1], 0);
                    }
                    prevMatch = isMatch;
                }
            }
            case MERGED_WITH_NEXT -> {
                // HF folds from the right: a match joins the span after it unless that one is a match too.
                boolean prevMatch = false;
                IntList rev = new IntList(nc * 3);
                for (int k = nc - 1; k >= 0; k--) {
                    boolean isMatch = c[3 * k + 2] == 1;
                    if (isMatch && !prevMatch && rev.size() > 0) {
                        rev.setInLastTriple(0, c[3 * k]);
                    } else {
                        addSpan(rev, c[3 * k], c[3 * k + 1], 0);
                    }
                    prevMatch = isMatch;
                }
                int[] v = rev.toArray();
                for (int k = v.length / 3 - 1; k >= 0; k--) addSpan(res, v[3 * k], v[3 * k + 1], 0);
            }
        }
        int[] spans = res.toArray();
        for (int k = 0; k < spans.length / 3; k++) {
            int st = spans[3 * k], en = spans[3 * k + 1];
            if (spans[3 * k + 2] == 1 || en <= st) continue;
            out.add(new Piece(s.substring(st, en), p.atStart() && st == 0));
        }
    }

    private static void addSpan(IntList l, int st, int en, int remove) {
        l.add(st);
        l.add(en);
        l.add(remove);
    }
}
