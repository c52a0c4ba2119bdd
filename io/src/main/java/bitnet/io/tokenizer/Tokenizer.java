package bitnet.io.tokenizer;

import java.nio.file.Path;

/** TEMPORARY stub; replaced by the tokenizer branch. */
public class Tokenizer {
    public static Tokenizer load(Path p) {
        throw new UnsupportedOperationException("stub");
    }

    public int[] encode(String text) {
        throw new UnsupportedOperationException("stub");
    }

    public int[] encode(String text, boolean addSpecial) {
        throw new UnsupportedOperationException("stub");
    }

    public String decode(int[] ids) {
        throw new UnsupportedOperationException("stub");
    }

    public String decode(int[] ids, boolean skip) {
        throw new UnsupportedOperationException("stub");
    }

    public Integer eosId() {
        return null;
    }

    public Integer bosId() {
        return null;
    }
}
