package bitnet.engine.data;

import bitnet.io.BadInputException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.logging.Logger;
import java.util.stream.Stream;

/**
 * Calibration and evaluation text. A spec is a local file (.txt, or .jsonl with a "text"
 * field per line), a directory of such files, or one of the seed's dataset names (openwebtext,
 * c4, wikitext), which resolves to the path in BITNET_DATASET_&lt;NAME&gt; and otherwise falls back,
 * with a warning, to the public-domain corpus bundled in the repository, and last to synthetic
 * text (warned: perplexity on it means nothing).
 */
public final class TextData {
    private static final Logger LOG = Logger.getLogger("bitnet");
    private static final ObjectMapper JSON = new ObjectMapper();
    public static final List<String> DATASET_NAMES = List.of("openwebtext", "c4", "wikitext");

    /** Where the text came from, for metadata and the report. */
    public record Text(String text, String source, boolean synthetic) {}

    private TextData() {}

    /** The repository root (set by ./bitnet), for the bundled corpus and demo model. */
    public static Path home() {
        String h = System.getProperty("bitnet.home");
        return h == null ? Path.of(".") : Path.of(h);
    }

    public static Path bundledCorpus() {
        return home().resolve("src/data/train.txt");
    }

    public static Text load(String spec) {
        if (spec == null || spec.isBlank()) {
            return fallback("no calibration data given");
        }
        String name = spec.toLowerCase(Locale.ROOT);
        if (DATASET_NAMES.contains(name) && !Files.exists(Path.of(spec))) {
            String env = System.getenv("BITNET_DATASET_" + name.toUpperCase(Locale.ROOT));
            if (env != null && !env.isBlank()) {
                return new Text(read(Path.of(env)), env, false);
            }
            return fallback("dataset '" + spec + "' is not available offline (set BITNET_DATASET_"
                    + name.toUpperCase(Locale.ROOT) + " to a local copy)");
        }
        Path p = Path.of(spec);
        return new Text(read(p), p.toString(), false);
    }

    private static Text fallback(String why) {
        Path corpus = bundledCorpus();
        if (Files.isRegularFile(corpus)) {
            LOG.warning(why + "; using the bundled public-domain corpus " + corpus);
            return new Text(read(corpus), corpus.toString(), false);
        }
        LOG.warning(why
                + " and the bundled corpus is missing; using SYNTHETIC text: perplexity figures will be meaningless");
        return new Text(synthetic(200_000, 42), "synthetic", true);
    }

    /**
     * Reads a .txt / .jsonl file or a directory of them; an empty result is bad input. At most
     * {@link #maxTextChars()} characters are read (a warning names what was left out), so no text
     * file exhausts the heap: a file is read as a prefix cut at a pre-token boundary, a .jsonl
     * line by line, a directory file by file until the limit.
     */
    public static String read(Path p) {
        if (!Files.exists(p)) {
            throw new BadInputException(p, "data file not found");
        }
        int limit = maxTextChars();
        StringBuilder sb = new StringBuilder();
        boolean whole = true;
        if (Files.isDirectory(p)) {
            try (Stream<Path> s = Files.walk(p)) {
                for (Path f : s.filter(Files::isRegularFile)
                        .filter(TextData::isText)
                        .sorted()
                        .toList()) {
                    if (!(whole = appendFile(f, sb, limit))) {
                        break;
                    }
                }
            } catch (IOException e) {
                throw new BadInputException(p, "cannot list directory: " + e.getMessage(), e);
            }
        } else {
            whole = appendFile(p, sb, limit);
        }
        if (sb.toString().isBlank()) {
            throw new BadInputException(p, "no text in the data (empty file, or no .txt/.jsonl files)");
        }
        if (!whole) {
            LOG.warning(String.format(
                    Locale.ROOT,
                    "%s: using the first %,d characters only (the text limit of this heap, 1/64 of -Xmx; "
                            + "a larger heap reads more)",
                    p,
                    sb.length()));
        }
        return sb.toString();
    }

    private static boolean isText(Path f) {
        String n = f.getFileName().toString().toLowerCase(Locale.ROOT);
        return n.endsWith(".txt") || n.endsWith(".jsonl") || n.endsWith(".md");
    }

    /** Appends f's text (after a blank line when sb holds some) up to limit characters in all; false when cut. */
    private static boolean appendFile(Path f, StringBuilder sb, int limit) {
        try {
            if (f.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".jsonl")) {
                var dec = StandardCharsets.UTF_8
                        .newDecoder()
                        .onMalformedInput(java.nio.charset.CodingErrorAction.REPORT)
                        .onUnmappableCharacter(java.nio.charset.CodingErrorAction.REPORT);
                try (var r = new java.io.BufferedReader(
                        new java.io.InputStreamReader(Files.newInputStream(f), dec), 1 << 16)) {
                    int line = 0;
                    for (String l; (l = r.readLine()) != null; ) {
                        line++;
                        if (l.isBlank()) {
                            continue;
                        }
                        JsonNode n;
                        try {
                            n = JSON.readTree(l);
                        } catch (IOException e) {
                            throw new BadInputException(f, "line " + line + " is not JSON");
                        }
                        JsonNode t = n == null ? null : n.get("text");
                        if (t == null || !t.isTextual()) {
                            throw new BadInputException(f, "line " + line + " has no string field \"text\"");
                        }
                        if (!append(sb, t.asText(), limit)) {
                            return false;
                        }
                    }
                }
                return true;
            }
            int room = limit - sb.length() - 2;
            if (room <= 0) {
                return false;
            }
            if (Files.size(f) <= room) { // UTF-8: never more characters than bytes
                return append(sb, Files.readString(f, StandardCharsets.UTF_8), limit);
            }
            Prefix pre = readPrefix(f, room);
            return append(sb, pre.complete() ? pre.text() : pre.text().substring(0, cutPoint(pre.text())), limit)
                    && pre.complete();
        } catch (java.nio.charset.CharacterCodingException e) {
            throw new BadInputException(f, "not UTF-8 text", e);
        } catch (IOException e) {
            throw new BadInputException(f, "cannot read: " + e.getMessage(), e);
        }
    }

    /** Appends text after a blank line separator, cut at a pre-token boundary to stay within limit; false when cut. */
    private static boolean append(StringBuilder sb, String text, int limit) {
        String sep = sb.isEmpty() ? "" : "\n\n";
        int room = limit - sb.length() - sep.length();
        if (room <= 0) {
            return false;
        }
        if (text.length() <= room) {
            sb.append(sep).append(text);
            return true;
        }
        String part = text.substring(0, room);
        sb.append(sep).append(part, 0, cutPoint(part));
        return false;
    }

    /**
     * The most characters of text read into memory at once: 1/64 of the heap, at least 4 M
     * (16 M chars under -Xmx1g). Tokenizing takes several times the text's size (the string,
     * pre-token pieces, the ids), so a larger input is refused or cut rather than running out of memory.
     */
    public static int maxTextChars() {
        String p = System.getProperty("bitnet.maxTextChars");
        if (p != null) {
            return Integer.parseInt(p);
        }
        return (int) Math.min(
                Integer.MAX_VALUE - 16, Math.max(4L << 20, Runtime.getRuntime().maxMemory() / 64));
    }

    /** The first characters of a UTF-8 file, and whether that is all of it. */
    public record Prefix(String text, boolean complete) {}

    /** Reads at most maxChars characters of f (strict UTF-8: a malformed byte is bad input naming f). */
    public static Prefix readPrefix(Path f, int maxChars) {
        if (!Files.isRegularFile(f)) {
            throw new BadInputException(f, Files.exists(f) ? "not a regular file" : "file not found");
        }
        var dec = StandardCharsets.UTF_8
                .newDecoder()
                .onMalformedInput(java.nio.charset.CodingErrorAction.REPORT)
                .onUnmappableCharacter(java.nio.charset.CodingErrorAction.REPORT);
        try (var r = new java.io.InputStreamReader(Files.newInputStream(f), dec)) {
            char[] buf = new char[Math.max(1, maxChars)];
            int n = 0;
            while (n < maxChars) {
                int k = r.read(buf, n, maxChars - n);
                if (k < 0) {
                    return new Prefix(new String(buf, 0, n), true);
                }
                n += k;
            }
            return new Prefix(new String(buf, 0, n), r.read() < 0);
        } catch (java.nio.charset.CharacterCodingException e) {
            throw new BadInputException(f, "not UTF-8 text", e);
        } catch (IOException e) {
            throw new BadInputException(f, "cannot read: " + e.getMessage(), e);
        }
    }

    /**
     * Where a prefix may be cut so its tokens are those of the whole text: before a whitespace
     * character that follows a non-whitespace one (pre-tokenizers start a new piece there), the
     * last such place; the whole length when there is none.
     */
    public static int cutPoint(String s) {
        for (int i = s.length() - 1; i > 0; i--) {
            if (Character.isWhitespace(s.charAt(i)) && !Character.isWhitespace(s.charAt(i - 1))) {
                return i;
            }
        }
        return s.length();
    }

    /** Deterministic pseudo-English for when nothing else exists. */
    public static String synthetic(int chars, long seed) {
        String[] words = {
            "the", "of", "and", "a", "to", "in", "is", "was", "that", "for", "it", "with", "as", "his", "on", "be",
            "at", "by", "whale", "sea", "ship", "man", "old", "time", "day", "night", "king", "land", "people", "law"
        };
        SplittableRandom r = new SplittableRandom(seed);
        StringBuilder sb = new StringBuilder(chars + 16);
        while (sb.length() < chars) {
            sb.append(words[r.nextInt(words.length)]);
            sb.append(r.nextInt(12) == 0 ? ".\n" : " ");
        }
        return sb.toString();
    }
}
