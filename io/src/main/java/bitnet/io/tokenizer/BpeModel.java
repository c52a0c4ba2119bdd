package bitnet.io.tokenizer;

import bitnet.io.BadInputException;
import com.fasterxml.jackson.databind.JsonNode;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;
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

    final Map<String, Integer> vocab;
    final String[] idToToken; // index = id; null for gaps
    private final LongLongMap merges; // (left<<32|right) -> (rank<<32|newId)
    private final int unkId; // -1: none
    private final boolean fuseUnk;
    private final boolean byteFallback;
    private final boolean ignoreMerges;
    private final String prefix; // continuing_subword_prefix or ""
    private final String suffix; // end_of_word_suffix or ""
    private final int[] byteIds = new int[256]; // "<0xXX>" ids, -1 when absent
    private final int[] charIds; // BMP single-char tokens (fast path when no prefix/suffix), -1 absent
    private final ConcurrentHashMap<String, int[]> cache = new ConcurrentHashMap<>();

    BpeModel(JsonNode m, Path file) {
        JsonNode v = m.get("vocab");
        if (v == null || !v.isObject()) throw new BadInputException(file, "BPE model has no vocab object");
        vocab = new HashMap<>(v.size() * 2);
        int maxId = -1;
        for (Iterator<Map.Entry<String, JsonNode>> it = v.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            if (!e.getValue().canConvertToInt() || e.getValue().asInt() < 0) {
                throw new BadInputException(file, "BPE vocab id of '" + e.getKey() + "' is not a non-negative int");
            }
            int id = e.getValue().asInt();
            if (id > MAX_ID) {
                throw new BadInputException(file, "BPE vocab id " + id + " exceeds the limit of " + MAX_ID);
            }
            if (e.getKey().length() > MAX_TOKEN_CHARS) {
                throw new BadInputException(file, "BPE vocab token of " + e.getKey().length() + " chars exceeds the limit of "
                        + MAX_TOKEN_CHARS);
            }
            vocab.put(e.getKey(), id);
            maxId = Math.max(maxId, id);
        }
        idToToken = new String[maxId + 1];
        for (Map.Entry<String, Integer> e : vocab.entrySet()) idToToken[e.getValue()] = e.getKey();

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
            Integer id = vocab.get(unk);
            if (id == null) throw new BadInputException(file, "BPE unk_token '" + unk + "' is not in the vocab");
            unkId = id;
        } else {
            unkId = -1;
        }
        for (int b = 0; b < 256; b++) {
            Integer id = vocab.get(String.format("<0x%02X>", b));
            byteIds[b] = id == null ? -1 : id;
        }
        charIds = new int[65536];
        Arrays.fill(charIds, -1);
        for (Map.Entry<String, Integer> e : vocab.entrySet()) {
            String k = e.getKey();
            if (k.length() == 1 && !Character.isSurrogate(k.charAt(0))) charIds[k.charAt(0)] = e.getValue();
        }

        JsonNode mj = m.get("merges");
        if (mj != null && !mj.isNull() && !mj.isArray()) {
            throw new BadInputException(file, "BPE merges is not an array");
        }
        int nm = mj == null || mj.isNull() ? 0 : mj.size();
        merges = new LongLongMap(Math.max(16, nm * 2));
        for (int r = 0; r < nm; r++) {
            JsonNode e = mj.get(r);
            String a, b;
            if (e.isTextual()) {
                String s = e.asText();
                int sp = s.indexOf(' ', 1);
                if (sp < 0) throw new BadInputException(file, "BPE merge " + r + " '" + s + "' is not 'a b'");
                a = s.substring(0, sp);
                b = s.substring(sp + 1);
            } else if (e.isArray() && e.size() == 2) {
                a = e.get(0).asText();
                b = e.get(1).asText();
            } else {
                throw new BadInputException(file, "BPE merge " + r + " is neither 'a b' nor [a, b]");
            }
            Integer ia = vocab.get(a), ib = vocab.get(b);
            String joined = a + (b.startsWith(prefix) ? b.substring(prefix.length()) : b);
            Integer in = vocab.get(joined);
            if (ia == null || ib == null || in == null) {
                throw new BadInputException(file, "BPE merge " + r + " (" + a + ", " + b + ") uses a token not in the vocab");
            }
            // Later duplicates overwrite earlier ones, as in HF's HashMap build.
            merges.put(key(ia, ib), ((long) r << 32) | in);
        }
    }

    private static String textOr(JsonNode n, String dflt) {
        return n == null || n.isNull() ? dflt : n.asText();
    }

    private static long key(int a, int b) {
        return ((long) a << 32) | (b & 0xFFFFFFFFL);
    }

    int maxId() {
        return idToToken.length - 1;
    }

    /** Appends the ids of one pre-token to out. */
    void tokenize(String word, IntList out) {
        if (word.isEmpty()) return;
        if (ignoreMerges) {
            Integer id = vocab.get(word);
            if (id != null) {
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
                Integer v = vocab.get(s);
                if (v != null) id = v;
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
            long m = merges.get(key(ids[i], ids[i + 1]));
            if (m >= 0) heap.push((m & 0xFFFFFFFF00000000L) | i);
        }
        int alive = n;
        while (!heap.isEmpty()) {
            long top = heap.pop();
            int pos = (int) top;
            long rank = top >>> 32;
            if (dead[pos] || next[pos] < 0) continue;
            int r = next[pos];
            long m = merges.get(key(ids[pos], ids[r]));
            if (m < 0 || (m >>> 32) != rank) continue; // stale entry
            ids[pos] = (int) m;
            dead[r] = true;
            alive--;
            next[pos] = next[r];
            if (next[r] >= 0) prev[next[r]] = pos;
            if (prev[pos] >= 0) {
                long pm = merges.get(key(ids[prev[pos]], ids[pos]));
                if (pm >= 0) heap.push((pm & 0xFFFFFFFF00000000L) | prev[pos]);
            }
            if (next[pos] >= 0) {
                long nm = merges.get(key(ids[pos], ids[next[pos]]));
                if (nm >= 0) heap.push((nm & 0xFFFFFFFF00000000L) | pos);
            }
        }
        int[] out = new int[alive];
        int k = 0;
        for (int i = 0; i >= 0; i = next[i]) out[k++] = ids[i];
        return out;
    }

    /** Open-addressing map from long keys to non-negative long values; get returns -1 when absent. */
    static final class LongLongMap {
        private long[] keys;
        private long[] vals;
        private boolean[] used;
        private int size;

        LongLongMap(int capacity) {
            int cap = Integer.highestOneBit(Math.max(4, capacity) - 1) << 1;
            keys = new long[cap];
            vals = new long[cap];
            used = new boolean[cap];
        }

        private static int mix(long k) {
            long h = k * 0x9E3779B97F4A7C15L;
            return (int) (h ^ (h >>> 29));
        }

        long get(long k) {
            int mask = keys.length - 1;
            for (int i = mix(k) & mask; used[i]; i = (i + 1) & mask) {
                if (keys[i] == k) return vals[i];
            }
            return -1;
        }

        void put(long k, long v) {
            if ((size + 1) * 2 > keys.length) grow();
            int mask = keys.length - 1;
            int i = mix(k) & mask;
            while (used[i] && keys[i] != k) i = (i + 1) & mask;
            if (!used[i]) size++;
            used[i] = true;
            keys[i] = k;
            vals[i] = v;
        }

        private void grow() {
            long[] ok = keys, ov = vals;
            boolean[] ou = used;
            keys = new long[ok.length * 2];
            vals = new long[ok.length * 2];
            used = new boolean[ok.length * 2];
            size = 0;
            for (int i = 0; i < ok.length; i++) if (ou[i]) put(ok[i], ov[i]);
        }
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
