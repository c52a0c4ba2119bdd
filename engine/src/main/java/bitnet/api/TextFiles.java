package bitnet.api;

import bitnet.engine.data.TextData;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.function.Function;
import java.util.logging.Logger;

/**
 * Reading training and evaluation text the way the engine does: {@code .txt} files,
 * {@code .jsonl} files (their {@code text} fields), and directories of them. Stateless; safe
 * from any thread.
 */
public final class TextFiles {
    /** Tokens dropped from the end of a cut prefix: a post-processor's end token and any piece the cut changed. */
    private static final int MARGIN = 16;

    private TextFiles() {}

    /**
     * The whole text of a file or directory.
     *
     * @param path a {@code .txt} or {@code .jsonl} file, or a directory of them
     * @return the text (documents separated by blank lines)
     * @throws bitnet.io.BadInputException when the path is missing or holds no text
     */
    public static String read(Path path) {
        return TextData.read(path);
    }

    /**
     * The first tokens of a text file, as many as needed, without reading or tokenizing the
     * rest: a prefix cut at a pre-token boundary tokenizes as the whole text does up to the cut.
     * The prefix grows 4x until it holds enough tokens, the file ends, or it reaches the text
     * limit of this heap (then a warning is logged and fewer tokens are returned).
     *
     * @param tokenizer text to ids (e.g. {@code model.tokenizer()::encode})
     * @param file a text file
     * @param need how many tokens are wanted
     * @return the whole file's ids when it ends before the prefix limit, else at least need ids
     *     (fewer only at the heap's text limit)
     */
    public static int[] firstTokens(Function<String, int[]> tokenizer, Path file, long need) {
        int limit = TextData.maxTextChars();
        long chars = Math.max(1 << 16, need * 8);
        while (true) {
            int n = (int) Math.min(chars, limit);
            TextData.Prefix p = TextData.readPrefix(file, n);
            if (p.complete()) {
                return tokenizer.apply(p.text());
            }
            String s = p.text();
            int[] ids = tokenizer.apply(s.substring(0, TextData.cutPoint(s)));
            int keep = Math.max(0, ids.length - MARGIN);
            if (keep >= need || n >= limit) {
                if (keep < need) {
                    Logger.getLogger("bitnet")
                            .warning(file + ": scoring the first " + n
                                    + " characters only (the text limit of this heap)");
                }
                return Arrays.copyOf(ids, keep);
            }
            chars *= 4;
        }
    }

    /**
     * The installation directory (the system property {@code bitnet.home}, set by the
     * {@code bitnet} launcher; else the working directory): where the bundled demo model
     * ({@code src/demo/model}), its held-out text and the bundled corpus live.
     *
     * @return the directory
     */
    public static Path home() {
        return TextData.home();
    }

    /**
     * The most characters of text this heap reads into memory at once (1/64 of the heap, at least
     * 4 M; the system property {@code bitnet.maxTextChars} overrides it): tokenizing takes several
     * times the text's size, so a larger input is refused or cut rather than running out of memory.
     *
     * @return the limit in characters
     */
    public static int maxChars() {
        return TextData.maxTextChars();
    }

    /**
     * The whole text of one file, refused above {@link #maxChars()} instead of running out of
     * memory.
     *
     * @param f a UTF-8 text file
     * @return its text
     * @throws bitnet.io.BadInputException naming the file when it is missing, not UTF-8, or too large
     */
    public static String readWhole(Path f) {
        int limit = TextData.maxTextChars();
        long bytes;
        try {
            bytes = java.nio.file.Files.isRegularFile(f) ? java.nio.file.Files.size(f) : 0;
        } catch (java.io.IOException e) {
            bytes = 0; // readPrefix reports the problem
        }
        // a UTF-8 file never has more characters than bytes: refuse by size at once, without reading
        TextData.Prefix p = bytes > limit ? null : TextData.readPrefix(f, limit);
        if (p == null || !p.complete()) {
            throw new bitnet.io.BadInputException(
                    f,
                    (bytes > limit ? bytes + " bytes, more than " : "more than ") + limit
                            + " characters: too large to tokenize in one piece with this heap"
                            + " (split the file, use --jsonl, or raise the heap with BITNET_JAVA_OPTS=-Xmx...)");
        }
        return p.text();
    }
}
