package bitnet.api;

import bitnet.io.tokenizer.Tokenizer;
import java.nio.file.Path;

/**
 * A HuggingFace {@code tokenizer.json} (byte-level BPE or SentencePiece-style), encoding exactly as
 * the {@code tokenizers} library's {@code encode(text)} with its post-processor. Immutable after
 * loading; safe to use from any number of threads.
 */
public final class TextTokenizer {
    private final Tokenizer tok;

    private TextTokenizer(Tokenizer tok) {
        this.tok = tok;
    }

    /**
     * Loads a tokenizer.
     *
     * @param fileOrDir {@code tokenizer.json} or a directory holding it
     * @return the tokenizer
     * @throws bitnet.io.BadInputException when the file is missing or malformed
     */
    public static TextTokenizer load(Path fileOrDir) {
        return new TextTokenizer(Tokenizer.load(fileOrDir));
    }

    static TextTokenizer of(Tokenizer t) {
        return new TextTokenizer(t);
    }

    /**
     * Encodes text with the tokenizer's special tokens (its post-processor).
     *
     * @param text any string
     * @return token ids
     */
    public int[] encode(String text) {
        return tok.encode(text);
    }

    /**
     * Decodes ids to text.
     *
     * @param ids token ids (each in [0, vocabulary size))
     * @param skipSpecialTokens drop special tokens
     * @return the text
     */
    public String decode(int[] ids, boolean skipSpecialTokens) {
        return tok.decode(ids, skipSpecialTokens);
    }

    /**
     * Decodes ids to text, special tokens included.
     *
     * @param ids token ids
     * @return the text
     */
    public String decode(int[] ids) {
        return tok.decode(ids);
    }

    /**
     * The token string of an id, as the vocabulary stores it.
     *
     * @param id a token id
     * @return the token, or null when the vocabulary has no such id
     */
    public String idToToken(int id) {
        return tok.idToToken(id);
    }

    /**
     * The vocabulary size.
     *
     * @return the number of ids
     */
    public int vocabSize() {
        return tok.vocabSize();
    }

    /**
     * The end-of-sequence id the tokenizer declares.
     *
     * @return the id, or null
     */
    public Integer eosId() {
        return tok.eosId();
    }
}
