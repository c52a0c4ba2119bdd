package bitnet.io.tokenizer;

import bitnet.io.BadInputException;
import com.fasterxml.jackson.databind.JsonNode;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The BPE model of tokenizer.json: vocab, merges (both the "a b" string and the ["a","b"] pair
 * forms), unk_token with fuse_unk, byte_fallback, ignore_merges, continuing_subword_prefix and
 * end_of_word_suffix. It turns one pre-token ("word") into ids exactly as HF's {@code BPE::tokenize}
 * does: merges are applied lowest rank first, ties to the leftmost pair, using a heap of ranks over
 * a linked list of symbols, so a word of n chars costs O(n log n). Dropout is not supported (a
 * non-null dropout is rejected at load): encoding is deterministic.
 */
final class BpeModel {
    private static final int CACHE_WORD_MAX = 256;
    private static final int CACHE_ENTRIES_MAX = 20_000;
    /**
     * Longest token accepted. Real vocabularies stay under a few hundred chars; the bound keeps a
     * hostile file from holding a 10 MB token, and keeps added-token matching (a trie walk of at
     * most this many chars per position) linear in the text.
     */
    static final int MAX_TOKEN_CHARS = 1024;
    /** Largest token id accepted: ids index dense arrays, so a tiny file must not claim id 2^31. */
    static final int MAX_ID = (1 << 24) - 1;

    private final VocabMap vocab;
    final String[] idToToken; // index = id; null for gaps
    private final MergeTable merges;
    private final int unkId; // -1: none
    private final boolean fuseUnk;
    private final boolean byteFallback;
    private final boolean ignoreMerges;
    private final String prefix; // continuing_subword_prefix or ""
    private final String suffix; // end_of_word_suffix or ""
    private final int[] byteIds = new int[256]; // "<0xXX>" ids, -1 when absent
    private final int[] charIds; // BMP single-char tokens (fast path when no prefix/suffix), -1 absent
    private final ConcurrentHashMap<String, int[]> cache = new ConcurrentHashMap<>();

    /** The model from the streamed file: m holds the model's fields other than vocab and merges. */
    BpeModel(TokenizerJson.Parsed parsed, Path file) {
        JsonNode m = parsed.model();
        if (parsed.vocab() == null) throw new BadInputException(file, "BPE model has no vocab object");
        vocab = parsed.vocab();
        idToToken = parsed.byId();

        JsonNode dropout = m.get("dropout");
        if (dropout != null && !dropout.isNull() && dropout.asDouble() != 0.0 && dropout.asDouble() != 1.0) {
            throw new BadInputException(file, "unsupported BPE dropout " + dropout + " (only null)");
        }
        prefix = textOr(m.get("continuing_subword_prefix"), "");
        suffix = textOr(m.get("end_of_word_suffix"), "");
        fuseUnk = m.path("fuse_unk").asBoolean(false);
        byteFallback = m.path("byte_fallback").asBoolean(false);
        ignoreMerges = m.path("ignore_merges").asBoolean(false);
        String unk = textOr(m.get("unk_token"), null);
        if (unk != null) {
            int id = vocab.get(unk);
            if (id < 0) throw new BadInputException(file, "BPE unk_token '" + unk + "' is not in the vocab");
            unkId = id;
        } else {
            unkId = -1;
        }
        char[] hex = "0123456789ABCDEF".toCharArray();
        for (int b = 0; b < 256; b++) {
            byteIds[b] = vocab.get(new String(new char[] {'<', '0', 'x', hex[b >> 4], hex[b & 15], '>'}));
        }
        charIds = new int[65536];
        Arrays.fill(charIds, -1);
        vocab.forEach((k, id) -> {
            if (k.length() == 1 && !Character.isSurrogate(k.charAt(0))) charIds[k.charAt(0)] = id;
        });
        merges = buildMerges(parsed.merges(), m.get("merges"), file);
    }

    private MergeTable buildMerges(TokenizerJson.Merges ms, JsonNode asTree, Path file) {
        if (ms == null) {
            if (asTree != null && !asTree.isNull()) throw new BadInputException(file, "BPE merges is not an array");
            return new MergeTable(new TokenizerJson.Merges());
        }
        if (ms.strings != null) { // merges came before the vocab, or the vocab shares hashes or ids
            for (int r = 0; r < ms.strings.size(); r++) {
                String a = ms.strings.get(r)[0], b = ms.strings.get(r)[1];
                int ia = vocab.get(a), ib = vocab.get(b), in = vocab.get(a + withoutPrefix(b));
                if (ia < 0 || ib < 0 || in < 0) throw TokenizerJson.notInVocab(file, r, a, b);
                ms.add(ia, ib, in);
            }
        } else if (!ms.prefix.equals(prefix)) { // continuing_subword_prefix came after the merges
            for (int r = 0; r < ms.n; r++) {
                String a = idToToken[ms.left[r]], b = idToToken[ms.right[r]];
                int in = vocab.get(a + withoutPrefix(b));
                if (in < 0) throw TokenizerJson.notInVocab(file, r, a, b);
                ms.merged[r] = in;
            }
        }
        return new MergeTable(ms);
    }

    private String withoutPrefix(String b) {
        return !prefix.isEmpty() && b.startsWith(prefix) ? b.substring(prefix.length()) : b;
    }

    private static String textOr(JsonNode n, String dflt) {
        return n == null || n.isNull() ? dflt : n.asText();
    }

    /** Id of a vocab token, or -1. */
    int id(String token) {
        return vocab.get(token);
    }

    int maxId() {
        return idToToken.length - 1;
    }

    /** Appends the ids of one pre-token to out. */
    void tokenize(String word, IntList out) {
        if (word.isEmpty()) return;
        if (ignoreMerges) {
            int id = vocab.get(word);
            if (id >= 0) {
                out.add(id);
                return;
            }
        }
        boolean cacheable = word.length() <= CACHE_WORD_MAX;
        if (cacheable) {
            int[] hit = cache.get(word);
            if (hit != null) {
                out.addAll(hit);
                return;
            }
        }
        int[] ids = mergeWord(word);
        if (cacheable) {
            if (cache.size() >= CACHE_ENTRIES_MAX) cache.clear(); // crude bound; hot words come back at once
            cache.put(word, ids);
        }
        out.addAll(ids);
    }

    private int[] mergeWord(String w) {
        IntList sym = new IntList(w.length());
        int unkPending = -1; // HF keeps a pending unk so fuse_unk can grow it
        boolean fast = prefix.isEmpty() && suffix.isEmpty();
        for (int i = 0; i < w.length(); ) {
            int cp = w.codePointAt(i);
            int len = Character.charCount(cp);
            boolean first = i == 0, last = i + len == w.length();
            int id = -1;
            String s = null;
            if (fast && len == 1) {
                id = charIds[cp];
            } else {
                s = w.substring(i, i + len);
                if (!first) s = prefix + s;
                if (last) s = s + suffix;
                id = vocab.get(s);
            }
            i += len;
            if (id >= 0) {
                if (unkPending >= 0) {
                    sym.add(unkPending);
                    unkPending = -1;
                }
                sym.add(id);
                continue;
            }
            if (byteFallback) {
                if (s == null) s = new String(Character.toChars(cp));
                byte[] bytes = s.getBytes(StandardCharsets.UTF_8);
                boolean all = true;
                for (byte b : bytes) all &= byteIds[b & 0xFF] >= 0;
                if (all) {
                    for (byte b : bytes) sym.add(byteIds[b & 0xFF]);
                    continue;
                }
            }
            if (unkId >= 0) {
                if (unkPending >= 0 && !fuseUnk) sym.add(unkPending);
                unkPending = unkId;
            }
            // no unk token: the char is dropped, as in HF
        }
        if (unkPending >= 0) sym.add(unkPending);
        return applyMerges(sym.toArray());
    }

    private int[] applyMerges(int[] ids) {
        int n = ids.length;
        if (n < 2) return ids;
        int[] prev = new int[n], next = new int[n];
        boolean[] dead = new boolean[n];
        for (int i = 0; i < n; i++) {
            prev[i] = i - 1;
            next[i] = i + 1 < n ? i + 1 : -1;
        }
        LongHeap heap = new LongHeap(n);
        for (int i = 0; i + 1 < n; i++) {
            long m = merges.rank(ids[i], ids[i + 1]);
            if (m >= 0) heap.push(m << 32 | i);
        }
        int alive = n;
        while (!heap.isEmpty()) {
            long top = heap.pop();
            int pos = (int) top;
            long rank = top >>> 32;
            if (dead[pos] || next[pos] < 0) continue;
            int r = next[pos];
            long m = merges.rank(ids[pos], ids[r]);
            if (m != rank) continue; // stale entry
            ids[pos] = merges.newId((int) m);
            dead[r] = true;
            alive--;
            next[pos] = next[r];
            if (next[r] >= 0) prev[next[r]] = pos;
            if (prev[pos] >= 0) {
                long pm = merges.rank(ids[prev[pos]], ids[pos]);
                if (pm >= 0) heap.push(pm << 32 | prev[pos]);
            }
            if (next[pos] >= 0) {
                long nm = merges.rank(ids[pos], ids[next[pos]]);
                if (nm >= 0) heap.push(nm << 32 | pos);
            }
        }
        int[] out = new int[alive];
        int k = 0;
        for (int i = 0; i >= 0; i = next[i]) out[k++] = ids[i];
        return out;
    }

    /** Binary min-heap of longs. */
    static final class LongHeap {
        private long[] a;
        private int n;

        LongHeap(int cap) {
            a = new long[Math.max(4, cap)];
        }

        boolean isEmpty() {
            return n == 0;
        }

        void push(long v) {
            if (n == a.length) a = Arrays.copyOf(a, n * 2);
            int i = n++;
            while (i > 0) {
                int p = (i - 1) >>> 1;
                if (a[p] <= v) break;
                a[i] = a[p];
                i = p;
            }
            a[i] = v;
        }

        long pop() {
            long top = a[0];
            long v = a[--n];
            int i = 0;
            while (true) {
                int c = 2 * i + 1;
                if (c >= n) break;
                if (c + 1 < n && a[c + 1] < a[c]) c++;
                if (a[c] >= v) break;
                a[i] = a[c];
                i = c;
            }
            a[i] = v;
            return top;
        }
    }
}
