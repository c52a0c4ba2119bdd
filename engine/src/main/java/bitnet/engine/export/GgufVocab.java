package bitnet.engine.export;

import bitnet.io.BadInputException;
import bitnet.io.gguf.GgufWriter;
import bitnet.io.gguf.GgufWriter.ValueType;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The tokenizer metadata of a GGUF file, from an HF tokenizer.json (+ tokenizer_config.json):
 * <ul>
 * <li>byte-level BPE as llama.cpp's "gpt2" model: tokens, token types, merges and the
 *     pre-tokenizer name ({@code tokenizer.ggml.pre}) recognised from the HF pre-tokenizer (GPT-2's
 *     ByteLevel regex "gpt-2", Llama 3's split "llama-bpe", Qwen's "qwen2");</li>
 * <li>SentencePiece-style BPE (byte fallback, "▁" for spaces) as "llama": tokens with scores
 *     that reproduce the merge order (a token made by merge rank r scores -r), byte tokens typed
 *     BYTE, add_space_prefix from the normalizer;</li>
 * </ul>
 * plus bos/eos/unk/padding ids, add_bos/add_eos from the post-processor and the chat template.
 * A tokenizer it cannot express is a {@link BadInputException} naming the file and what is
 * missing. A placeholder vocabulary (for models without a tokenizer) only when asked for.
 */
final class GgufVocab {
    static final int NORMAL = 1, UNKNOWN = 2, CONTROL = 3, USER_DEFINED = 4, UNUSED = 5, BYTE = 6;
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String LLAMA3_SPLIT =
            "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
    private static final String QWEN2_SPLIT =
            "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

    private GgufVocab() {}

    /** Writes the tokenizer of dir (tokenizer.json) for a model of vocabSize rows; config gives fallback ids. */
    static String write(GgufWriter w, Path dir, JsonNode config, int vocabSize) {
        Path file = dir.resolve("tokenizer.json");
        if (!Files.isRegularFile(file)) {
            throw new BadInputException(
                    file,
                    "no tokenizer.json: a GGUF needs the vocabulary (pass --placeholder-vocab for a model without one)");
        }
        JsonNode root = read(file);
        JsonNode tcfg = Files.isRegularFile(dir.resolve("tokenizer_config.json"))
                ? read(dir.resolve("tokenizer_config.json"))
                : JSON.createObjectNode();
        JsonNode m = root.path("model");
        if (!m.path("type").asText("BPE").equals("BPE") || !m.path("vocab").isObject()) {
            throw new BadInputException(
                    file,
                    "tokenizer model '" + m.path("type").asText("?")
                            + "' cannot be exported (only BPE: byte-level or SentencePiece-style)");
        }
        Map<Integer, String> byId = new HashMap<>();
        m.get("vocab").fields().forEachRemaining(e -> byId.put(e.getValue().asInt(), e.getKey()));
        Map<Integer, Boolean> special = new HashMap<>();
        for (JsonNode a : root.path("added_tokens")) {
            byId.put(a.path("id").asInt(), a.path("content").asText());
            special.put(a.path("id").asInt(), a.path("special").asBoolean(false));
        }
        int n = Math.max(
                vocabSize,
                byId.keySet().stream().mapToInt(Integer::intValue).max().orElse(-1) + 1);
        if (n > vocabSize) {
            throw new BadInputException(
                    file,
                    "the tokenizer has ids up to " + (n - 1) + " but the model's vocabulary has " + vocabSize
                            + " rows");
        }
        List<String> merges = merges(file, m.path("merges"));
        boolean byteFallback = m.path("byte_fallback").asBoolean(false);
        List<String> tokens = new ArrayList<>(n);
        List<Long> types = new ArrayList<>(n);
        String model;
        if (!byteFallback && isByteLevel(root)) {
            model = "gpt2";
            w.putString("tokenizer.ggml.model", model);
            w.putString("tokenizer.ggml.pre", pre(file, root.get("pre_tokenizer")));
            for (int i = 0; i < n; i++) {
                String t = byId.get(i);
                tokens.add(t == null ? "[PAD" + i + "]" : t);
                types.add((long)
                        (t == null
                                ? UNUSED
                                : special.containsKey(i) ? (special.get(i) ? CONTROL : USER_DEFINED) : NORMAL));
            }
            w.putArray("tokenizer.ggml.tokens", ValueType.STRING, tokens);
            w.putArray("tokenizer.ggml.token_type", ValueType.INT32, types);
            w.putArray("tokenizer.ggml.merges", ValueType.STRING, merges);
        } else if (byteFallback) {
            model = "llama";
            w.putString("tokenizer.ggml.model", model);
            Map<String, Integer> rank = new HashMap<>();
            for (int r = 0; r < merges.size(); r++) {
                rank.putIfAbsent(merges.get(r).replace(" ", ""), r);
            }
            List<Float> scores = new ArrayList<>(n);
            String unk = m.path("unk_token").asText(null);
            for (int i = 0; i < n; i++) {
                String t = byId.get(i);
                tokens.add(t == null ? "[PAD" + i + "]" : t);
                int type = t == null
                        ? UNUSED
                        : t.equals(unk)
                                ? UNKNOWN
                                : special.getOrDefault(i, false)
                                        ? CONTROL
                                        : special.containsKey(i)
                                                ? USER_DEFINED
                                                : t.matches("<0x[0-9A-Fa-f]{2}>") ? BYTE : NORMAL;
                types.add((long) type);
                Integer r = t == null ? null : rank.get(t);
                // llama.cpp's SentencePiece tokenizer merges the best-scoring adjacent pair first: score by merge rank
                scores.add(
                        r != null
                                ? -(float) r
                                : type == NORMAL && t.codePointCount(0, t.length()) > 1 ? -1e6f - i : 0f);
            }
            w.putArray("tokenizer.ggml.tokens", ValueType.STRING, tokens);
            w.putArray("tokenizer.ggml.scores", ValueType.FLOAT32, scores);
            w.putArray("tokenizer.ggml.token_type", ValueType.INT32, types);
            w.putBool("tokenizer.ggml.add_space_prefix", prependsSpace(root));
            if (unk != null && m.get("vocab").has(unk)) {
                w.putU32(
                        "tokenizer.ggml.unknown_token_id",
                        m.get("vocab").get(unk).asInt());
            }
        } else {
            throw new BadInputException(
                    file,
                    "BPE tokenizer that is neither byte-level nor SentencePiece-style (byte_fallback) cannot be exported");
        }
        Map<String, Integer> ids = new HashMap<>();
        for (int i = 0; i < tokens.size(); i++) {
            ids.putIfAbsent(tokens.get(i), i);
        }
        putId(w, "bos", token(tcfg, "bos_token", ids), config.path("bos_token_id"), n);
        putId(w, "eos", token(tcfg, "eos_token", ids), config.path("eos_token_id"), n);
        putId(w, "padding", token(tcfg, "pad_token", ids), config.path("pad_token_id"), n);
        boolean[] be = templateSpecials(root.get("post_processor"));
        w.putBool("tokenizer.ggml.add_bos_token", tcfg.path("add_bos_token").asBoolean(be[0]));
        w.putBool("tokenizer.ggml.add_eos_token", tcfg.path("add_eos_token").asBoolean(be[1]));
        String chat = chatTemplate(dir, tcfg);
        if (chat != null) {
            w.putString("tokenizer.chat_template", chat);
        }
        return model;
    }

    /** A stand-in vocabulary of n tokens for models without a tokenizer (explicit flag only). */
    static void placeholder(GgufWriter w, JsonNode config, int n) {
        List<String> tokens = new ArrayList<>(n);
        List<Long> types = new ArrayList<>(n);
        List<Float> scores = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            boolean b = i >= 3 && i < 259;
            // the last id is <|endoftext|>: llama.cpp sets attributes on it by name for models named phi3
            boolean end = i == n - 1 && i >= 259;
            tokens.add(
                    i == 0
                            ? "<unk>"
                            : i == 1
                                    ? "<s>"
                                    : i == 2
                                            ? "</s>"
                                            : b
                                                    ? String.format("<0x%02X>", i - 3)
                                                    : end ? "<|endoftext|>" : "<tok" + i + ">");
            types.add((long) (i == 0 ? UNKNOWN : i < 3 || end ? CONTROL : b ? BYTE : NORMAL));
            scores.add(0f);
        }
        w.putString("tokenizer.ggml.model", "llama");
        w.putArray("tokenizer.ggml.tokens", ValueType.STRING, tokens);
        w.putArray("tokenizer.ggml.scores", ValueType.FLOAT32, scores);
        w.putArray("tokenizer.ggml.token_type", ValueType.INT32, types);
        putId(w, "bos", null, config.path("bos_token_id"), n);
        putId(w, "eos", null, config.path("eos_token_id"), n);
        w.putBool("tokenizer.ggml.add_bos_token", false);
    }

    private static void putId(GgufWriter w, String what, Integer fromTokenizer, JsonNode fromConfig, int n) {
        Integer id = fromTokenizer;
        if (id == null && fromConfig != null) {
            JsonNode v = fromConfig.isArray() && !fromConfig.isEmpty() ? fromConfig.get(0) : fromConfig;
            id = v.canConvertToInt() ? v.asInt() : null;
        }
        if (id != null && id >= 0 && id < n) {
            w.putU32("tokenizer.ggml." + what + "_token_id", id);
        }
    }

    private static Integer token(JsonNode tcfg, String key, Map<String, Integer> ids) {
        JsonNode v = tcfg.get(key);
        String s = v == null
                ? null
                : v.isTextual() ? v.asText() : v.path("content").asText(null);
        return s == null ? null : ids.get(s);
    }

    private static boolean isByteLevel(JsonNode root) {
        String pre = String.valueOf(root.get("pre_tokenizer")), dec = String.valueOf(root.get("decoder"));
        return pre.contains("\"ByteLevel\"") || dec.contains("\"ByteLevel\"");
    }

    /** llama.cpp's name for the HF pre-tokenizer; what llama.cpp's converter finds by hashing test encodings. */
    private static String pre(Path file, JsonNode p) {
        if (p != null
                && p.path("type").asText().equals("ByteLevel")
                && p.path("use_regex").asBoolean(true)) {
            return "gpt-2";
        }
        if (p != null && p.path("type").asText().equals("Sequence")) {
            JsonNode list = p.path("pretokenizers");
            if (list.size() == 2
                    && list.get(0).path("type").asText().equals("Split")
                    && list.get(1).path("type").asText().equals("ByteLevel")) {
                String re = list.get(0).path("pattern").path("Regex").asText("");
                if (re.equals(LLAMA3_SPLIT)) {
                    return "llama-bpe";
                }
                if (re.equals(QWEN2_SPLIT)) {
                    return "qwen2";
                }
            }
            if (list.size() == 1
                    && list.get(0).path("type").asText().equals("ByteLevel")
                    && list.get(0).path("use_regex").asBoolean(true)) {
                return "gpt-2";
            }
        }
        throw new BadInputException(
                file,
                "its pre-tokenizer " + abbreviate(String.valueOf(p))
                        + " has no llama.cpp tokenizer.ggml.pre name this exporter knows (gpt-2, llama-bpe, qwen2)");
    }

    private static boolean prependsSpace(JsonNode root) {
        String s = String.valueOf(root.get("normalizer")) + root.get("pre_tokenizer");
        return s.contains("\"Prepend\"")
                || s.contains("\"prepend_scheme\":\"always\"")
                || s.contains("\"add_prefix_space\":true");
    }

    /** (adds bos, adds eos) from a TemplateProcessing post-processor's single template. */
    private static boolean[] templateSpecials(JsonNode post) {
        boolean[] be = new boolean[2];
        if (post != null && post.path("type").asText().equals("TemplateProcessing")) {
            JsonNode single = post.path("single");
            be[0] = !single.isEmpty() && single.get(0).has("SpecialToken");
            be[1] = single.size() > 1 && single.get(single.size() - 1).has("SpecialToken");
        } else if (post != null && post.path("type").asText().equals("Sequence")) {
            for (JsonNode p : post.path("processors")) {
                boolean[] x = templateSpecials(p);
                be[0] |= x[0];
                be[1] |= x[1];
            }
        }
        return be;
    }

    private static String chatTemplate(Path dir, JsonNode tcfg) {
        JsonNode c = tcfg.get("chat_template");
        if (c != null && c.isTextual()) {
            return c.asText();
        }
        if (c != null && c.isArray()) {
            for (JsonNode t : c) {
                if (t.path("name").asText().equals("default")) {
                    return t.path("template").asText();
                }
            }
        }
        Path jinja = dir.resolve("chat_template.jinja");
        try {
            return Files.isRegularFile(jinja) ? Files.readString(jinja) : null;
        } catch (IOException e) {
            throw new BadInputException(jinja, "cannot read: " + e.getMessage(), e);
        }
    }

    private static List<String> merges(Path file, JsonNode ms) {
        List<String> out = new ArrayList<>();
        for (JsonNode x : ms) {
            if (x.isTextual()) {
                out.add(x.asText());
            } else if (x.isArray() && x.size() == 2) {
                out.add(x.get(0).asText() + " " + x.get(1).asText());
            } else {
                throw new BadInputException(
                        file, "merge entry " + abbreviate(x.toString()) + " is neither \"a b\" nor [a, b]");
            }
        }
        return out;
    }

    private static JsonNode read(Path f) {
        try {
            JsonNode n = JSON.readTree(f.toFile());
            if (n == null || !n.isObject()) {
                throw new BadInputException(f, "not a JSON object");
            }
            return n;
        } catch (IOException e) {
            throw new BadInputException(
                    f, "invalid JSON: " + e.getMessage().lines().findFirst().orElse(""), e);
        }
    }

    private static String abbreviate(String s) {
        return s.length() <= 160 ? s : s.substring(0, 160) + "...";
    }
}
