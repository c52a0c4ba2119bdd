package bitnet.io.tokenizer;

import bitnet.io.BadInputException;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A HuggingFace tokenizer.json (BPE model) that encodes exactly as {@code tokenizers}'
 * {@code Tokenizer.encode(text)} and decodes as {@code decode(ids)}. The pipeline is HF's: split the
 * input on added tokens (non-normalized ones on the raw text, normalized ones after the
 * normalizer), normalize, pre-tokenize, BPE each pre-token, then the post-processor when special
 * tokens are requested. Supported components are listed in {@link Normalizers},
 * {@link PreTokenizers}, {@link BpeModel}, {@link PostProcessors} and {@link Decoders}; anything else
 * is a {@link BadInputException} naming the file and the unsupported type. Not supported: WordPiece,
 * Unigram and WordLevel models, pair encodings, truncation/padding, offsets. Thread-safe.
 */
public final class Tokenizer {
    private final Path file;
    private final BpeModel model;
    private final Normalizers.Normalizer normalizer;
    private final PreTokenizers.PreTokenizer preTokenizer;
    private final PostProcessors.PostProcessor postProcessor;
    private final Decoders.Decoder decoder;
    private final Map<Integer, AddedToken> addedById = new HashMap<>();
    private final Map<String, AddedToken> addedByContent = new HashMap<>();
    private final AddedTokenMatcher rawMatcher; // added tokens with normalized=false
    private final AddedTokenMatcher normMatcher; // added tokens with normalized=true (matched on normalized text)
    private final int vocabSize;
    private final Integer bosId;
    private final Integer eosId;

    /** One entry of added_tokens. */
    record AddedToken(
            int id,
            String content,
            boolean singleWord,
            boolean lstrip,
            boolean rstrip,
            boolean normalized,
            boolean special) {}

    private Tokenizer(Path file, TokenizerJson.Parsed parsed) {
        this.file = file;
        JsonNode root = parsed.root();
        JsonNode m = parsed.model() != null ? parsed.model() : root.path("model");
        boolean hasMerges = parsed.merges() != null || m.has("merges");
        String mtype = m.path("type").asText(hasMerges ? "BPE" : "");
        if (!mtype.equals("BPE")) {
            throw new BadInputException(file, "unsupported model type '" + mtype + "' (only BPE)");
        }
        if (parsed.model() == null) throw new BadInputException(file, "BPE model has no vocab object");
        model = new BpeModel(parsed, file);
        normalizer = Normalizers.parse(root.get("normalizer"), file);
        preTokenizer = PreTokenizers.parse(root.get("pre_tokenizer"), file);
        postProcessor = PostProcessors.parse(root.get("post_processor"), file);
        decoder = Decoders.parse(root.get("decoder"), file);

        int maxId = model.maxId();
        List<AddedToken> raw = new ArrayList<>(), norm = new ArrayList<>();
        for (JsonNode a : root.path("added_tokens")) {
            if (!a.path("id").canConvertToInt() || !a.path("content").isTextual()) {
                throw new BadInputException(
                        file, "added token without int id and string content: " + abbreviate(a.toString()));
            }
            if (a.get("id").asInt() < 0
                    || a.get("id").asInt() > BpeModel.MAX_ID
                    || a.get("content").asText().length() > BpeModel.MAX_TOKEN_CHARS) {
                throw new BadInputException(
                        file,
                        "added token id " + a.get("id").asInt() + " is out of range (0.." + BpeModel.MAX_ID
                                + ") or its content is longer than " + BpeModel.MAX_TOKEN_CHARS + " chars");
            }
            AddedToken t = new AddedToken(
                    a.get("id").asInt(),
                    a.get("content").asText(),
                    a.path("single_word").asBoolean(false),
                    a.path("lstrip").asBoolean(false),
                    a.path("rstrip").asBoolean(false),
                    a.path("normalized").asBoolean(!a.path("special").asBoolean(false)),
                    a.path("special").asBoolean(false));
            addedById.put(t.id(), t);
            addedByContent.put(t.content(), t);
            maxId = Math.max(maxId, t.id());
            if (t.content().isEmpty()) continue;
            (t.normalized() ? norm : raw).add(t);
        }
        vocabSize = maxId + 1;
        rawMatcher = new AddedTokenMatcher(raw, s -> s);
        normMatcher = new AddedTokenMatcher(norm, normalizer == null ? s -> s : normalizer::apply);

        Integer[] be = specialIds(file);
        bosId = be[0];
        eosId = be[1];
    }

    /** Loads dir/tokenizer.json when given a directory, else the file itself. */
    public static Tokenizer load(Path fileOrDir) {
        Path f = Files.isDirectory(fileOrDir) ? fileOrDir.resolve("tokenizer.json") : fileOrDir;
        TokenizerJson.Parsed parsed;
        try {
            // the largest real files are tens of MB (Gemma 3: 33 MB); the bound keeps a hostile
            // one from being read whole into the heap
            if (Files.isRegularFile(f) && Files.size(f) > (1L << 30)) {
                throw new BadInputException(
                        f, "tokenizer file of " + Files.size(f) + " bytes is larger than the 1 GiB accepted");
            }
            parsed = TokenizerJson.read(Files.readAllBytes(f), f);
        } catch (NoSuchFileException | java.io.FileNotFoundException e) {
            throw new BadInputException(f, "no such tokenizer file", e);
        } catch (IOException e) {
            throw new BadInputException(f, "invalid tokenizer JSON: " + firstLine(e.getMessage()), e);
        }
        if (!parsed.root().has("model")) throw new BadInputException(f, "tokenizer JSON has no 'model'");
        return new Tokenizer(f, parsed);
    }

    private static String abbreviate(String s) {
        return s.length() <= 200 ? s : s.substring(0, 200) + "...";
    }

    private static String firstLine(String msg) {
        if (msg == null) return "";
        int nl = msg.indexOf('\n');
        return nl < 0 ? msg : msg.substring(0, nl);
    }

    /** Ids of text with the post-processor's special tokens, as HF {@code encode(text)}. */
    public int[] encode(String text) {
        return encode(text, true);
    }

    /** Ids of text; addSpecialTokens=false skips the post-processor (HF add_special_tokens=False). */
    public int[] encode(String text, boolean addSpecialTokens) {
        IntList out = new IntList(text.length() / 3 + 4);
        List<Object> sections = rawMatcher.split(text);
        int origin = 0; // only whether a section starts at offset 0 matters (Metaspace "first")
        for (Object sec : sections) {
            if (sec instanceof AddedToken t) {
                out.add(t.id());
                origin = 1;
                continue;
            }
            String s = (String) sec;
            String normalized = normalizer == null ? s : normalizer.apply(s);
            boolean first = true;
            for (Object sub : normMatcher.split(normalized)) {
                if (sub instanceof AddedToken t) {
                    out.add(t.id());
                } else {
                    boolean atStart = origin == 0 && first;
                    List<PreTokenizers.Piece> pieces =
                            PreTokenizers.run(preTokenizer, List.of(new PreTokenizers.Piece((String) sub, atStart)));
                    for (PreTokenizers.Piece p : pieces) model.tokenize(p.text(), out);
                }
                first = false;
            }
            origin = 1;
        }
        int[] ids = out.toArray();
        return addSpecialTokens ? postProcessor.apply(ids) : ids;
    }

    /** Text of ids, as HF {@code decode(ids)} (special tokens kept). */
    public String decode(int[] ids) {
        return decode(ids, false);
    }

    /** Text of ids; unknown ids are skipped, as in HF. */
    public String decode(int[] ids, boolean skipSpecialTokens) {
        List<String> toks = new ArrayList<>(ids.length);
        for (int id : ids) {
            AddedToken a = addedById.get(id);
            String t = a != null ? a.content() : idToModelToken(id);
            if (t == null) continue;
            if (skipSpecialTokens && isSpecial(t)) continue;
            toks.add(t);
        }
        if (decoder == null) return String.join(" ", toks);
        return String.join("", decoder.apply(toks));
    }

    private boolean isSpecial(String token) {
        AddedToken a = addedByContent.get(token);
        return a != null && a.special();
    }

    private String idToModelToken(int id) {
        return id >= 0 && id < model.idToToken.length ? model.idToToken[id] : null;
    }

    /** One more than the largest id of the model vocab and the added tokens. */
    public int vocabSize() {
        return vocabSize;
    }

    /** Id of a token string (added tokens first, then the model vocab), or null. */
    public Integer tokenToId(String token) {
        AddedToken a = addedByContent.get(token);
        if (a != null) return a.id();
        int id = model.id(token);
        return id < 0 ? null : id;
    }

    /** Token string of an id (added tokens first, then the model vocab), or null. */
    public String idToToken(int id) {
        AddedToken a = addedById.get(id);
        return a != null ? a.content() : idToModelToken(id);
    }

    /** BOS id: tokenizer_config.json's bos_token if beside the file, else the template's first special token, else a well-known name; or null. */
    public Integer bosId() {
        return bosId;
    }

    /** EOS id: tokenizer_config.json's eos_token if beside the file, else a well-known name; or null. */
    public Integer eosId() {
        return eosId;
    }

    /** The tokenizer.json this was loaded from. */
    public Path file() {
        return file;
    }

    private Integer[] specialIds(Path f) {
        Integer bos = null, eos = null;
        Path cfg = f.toAbsolutePath().getParent() == null
                ? null
                : f.toAbsolutePath().getParent().resolve("tokenizer_config.json");
        if (cfg != null && Files.isRegularFile(cfg)) {
            try {
                JsonNode c = TokenizerJson.readTree(cfg.toFile());
                bos = idOfConfigToken(c.get("bos_token"));
                eos = idOfConfigToken(c.get("eos_token"));
            } catch (IOException e) {
                throw new BadInputException(cfg, "invalid JSON: " + e.getMessage(), e);
            }
        }
        if (bos == null) bos = postProcessor.firstSpecial();
        if (bos == null) bos = firstKnown("<|begin_of_text|>", "<s>", "<bos>", "<|startoftext|>", "<|endoftext|>");
        if (eos == null) eos = firstKnown("<|end_of_text|>", "</s>", "<eos>", "<|endoftext|>");
        return new Integer[] {bos, eos};
    }

    private Integer idOfConfigToken(JsonNode n) {
        if (n == null || n.isNull()) return null;
        String s = n.isTextual() ? n.asText() : n.path("content").asText(null);
        return s == null ? null : tokenToId(s);
    }

    private Integer firstKnown(String... names) {
        for (String s : names) {
            AddedToken a = addedByContent.get(s);
            if (a != null) return a.id();
        }
        return null;
    }

    /**
     * Leftmost-longest matching of added tokens (HF uses Aho-Corasick with that match kind) with the
     * single_word, lstrip and rstrip rules of HF's AddedVocabulary::find_matches. Splits a string into
     * a list of String (plain text) and AddedToken items; empty strings are dropped.
     */
    static final class AddedTokenMatcher {
        private final Node root = new Node();
        private final boolean empty;

        private static final class Node {
            final Map<Character, Node> next = new HashMap<>(4);
            AddedToken token;
        }

        AddedTokenMatcher(List<AddedToken> tokens, java.util.function.UnaryOperator<String> form) {
            for (AddedToken t : tokens) {
                String key = form.apply(t.content());
                if (key.isEmpty()) continue;
                Node n = root;
                for (int i = 0; i < key.length(); i++) n = n.next.computeIfAbsent(key.charAt(i), c -> new Node());
                if (n.token == null) n.token = t;
            }
            empty = root.next.isEmpty();
        }

        List<Object> split(String s) {
            List<Object> out = new ArrayList<>();
            if (empty) {
                if (!s.isEmpty()) out.add(s);
                return out;
            }
            int startOffset = 0;
            int i = 0;
            while (i < s.length()) {
                Node n = root;
                AddedToken best = null;
                int bestEnd = -1;
                for (int j = i; j < s.length(); j++) {
                    n = n.next.get(s.charAt(j));
                    if (n == null) break;
                    if (n.token != null) {
                        best = n.token;
                        bestEnd = j + 1;
                    }
                }
                if (best == null) {
                    i++;
                    continue;
                }
                int start = i, stop = bestEnd;
                i = bestEnd; // non-overlapping: the next search starts after this match
                if (best.singleWord()) {
                    boolean startOk = start == 0 || !isWordChar(s.codePointBefore(start));
                    boolean stopOk = stop == s.length() || !isWordChar(s.codePointAt(stop));
                    if (!startOk || !stopOk) continue;
                }
                if (start < startOffset) continue; // swallowed by the previous token's rstrip
                if (best.lstrip()) {
                    int ns = start;
                    while (ns > 0 && RegexScanners.isWhite(s.codePointBefore(ns)))
                        ns -= Character.charCount(s.codePointBefore(ns));
                    start = Math.max(ns, startOffset);
                }
                if (best.rstrip()) {
                    while (stop < s.length() && RegexScanners.isWhite(s.codePointAt(stop)))
                        stop += Character.charCount(s.codePointAt(stop));
                    i = stop;
                }
                if (startOffset < start) out.add(s.substring(startOffset, start));
                out.add(best);
                startOffset = stop;
            }
            if (startOffset < s.length()) out.add(s.substring(startOffset));
            return out;
        }

        private static boolean isWordChar(int c) {
            return Character.isLetterOrDigit(c) || c == '_';
        }
    }
}
