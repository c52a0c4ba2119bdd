package bitnet.io.tokenizer;

import java.util.Arrays;
import java.util.HashMap;

/**
 * The BPE vocab as a map from token to id built for a fast load (262,144 tokens and 514,906
 * merges for Gemma 3, whose load is bound by cache misses, not by work). The table is one long
 * per slot: a 40-bit hash of the token's chars and its 24-bit id. While every token has its own
 * 40-bit hash and its own id (checked as tokens go in; true of every real vocab), a token that IS
 * in the vocab is found from its hash alone: one cache miss, no String read. That is what the
 * merges need at load (each names two vocab tokens and, in a valid file, makes a third), looked
 * up from the parser's char buffer without making a String, the merged token's hash composed
 * from its parts'. {@link #get} of an arbitrary string (which may be absent) still compares the
 * string. When the check fails (a hash or id shared), lookups go through a plain HashMap: slower,
 * equally exact. Read-only after load: safe from any thread.
 */
final class VocabMap {
    private static final long P = 0x100000001B3L * 31 + 2; // odd multiplier of the polynomial hash
    /** P^k for k up to the longest token: the hash of a concatenation from its parts'. */
    private static final long[] POW = new long[BpeModel.MAX_TOKEN_CHARS + 1];

    private static final int ID_BITS = 24; // ids are at most BpeModel.MAX_ID = 2^24 - 1

    static {
        POW[0] = 1;
        for (int k = 1; k < POW.length; k++) POW[k] = POW[k - 1] * P;
    }

    private long[] table; // (cap) tag(hash) << 24 | id; 0 = empty
    private String[] byId = new String[1 << 16]; // (maxId+1) token of each id while unique
    private int n;
    private boolean unique = true; // no two tokens share a hash tag or an id
    private HashMap<String, Integer> fallback; // when !unique

    VocabMap(int expected) {
        table = new long[Integer.highestOneBit(Math.max(16, expected * 2) - 1) << 1];
    }

    static long hash(char[] buf, int off, int len) {
        long h = 0;
        for (int k = 0; k < len; k++) h = h * P + buf[off + k];
        return h;
    }

    static long hash(String s, int from) {
        long h = 0;
        for (int k = from; k < s.length(); k++) h = h * P + s.charAt(k);
        return h;
    }

    /** The hash of a + b from theirs (b of length lb). */
    static long join(long ha, long hb, int lb) {
        return ha * POW[Math.min(lb, BpeModel.MAX_TOKEN_CHARS)] + hb;
    }

    private static long tag(long h) {
        long t = (h ^ (h >>> 31)) * 0x9E3779B97F4A7C15L >>> ID_BITS; // 40 bits
        return t == 0 ? 1 : t;
    }

    private int slot(long tag) {
        return (int) (tag ^ (tag >>> 20)) & (table.length - 1);
    }

    /** Adds a token (the vocab in file order; a later token of the same string wins). */
    void put(String tok, int id) {
        if (!unique) {
            fallback.put(tok, id);
            return;
        }
        if ((n + 1) * 2 > table.length) rehash();
        long t = tag(hash(tok, 0));
        int mask = table.length - 1;
        int i = slot(t);
        for (; table[i] != 0; i = (i + 1) & mask) {
            if (table[i] >>> ID_BITS == t) { // a shared hash, or the same token twice
                becomeFallback();
                fallback.put(tok, id);
                return;
            }
        }
        if (id < byId.length && byId[id] != null) { // an id shared by two tokens
            becomeFallback();
            fallback.put(tok, id);
            return;
        }
        table[i] = t << ID_BITS | id;
        if (id >= byId.length) byId = Arrays.copyOf(byId, Math.max(id + 1, byId.length * 2));
        byId[id] = tok;
        n++;
    }

    private void becomeFallback() {
        unique = false;
        fallback = new HashMap<>(Math.max(16, n * 2));
        for (int id = 0; id < byId.length; id++) if (byId[id] != null) fallback.put(byId[id], id);
        table = null;
    }

    private void rehash() {
        long[] old = table;
        table = new long[old.length * 2];
        int mask = table.length - 1;
        for (long e : old) {
            if (e == 0) continue;
            int i = slot(e >>> ID_BITS);
            while (table[i] != 0) i = (i + 1) & mask;
            table[i] = e;
        }
    }

    /**
     * Id of the token whose hash is h, trusting that it is in the vocab (see the class comment):
     * for the parts and results of merges, which a valid file takes from its vocab. An invalid
     * file's absent token is caught unless its 40-bit tag happens to be a vocab token's (odds of
     * about 2^-22 per merge for a 262,144-token vocab). -1 when no token has that tag. Only while
     * {@link #isUnique()}.
     */
    int idOfPresent(long h) {
        long t = tag(h);
        int mask = table.length - 1;
        for (int i = slot(t); table[i] != 0; i = (i + 1) & mask) {
            if (table[i] >>> ID_BITS == t) return (int) (table[i] & ((1 << ID_BITS) - 1));
        }
        return -1;
    }

    /** Id of s, or -1. */
    int get(String s) {
        if (!unique) {
            Integer id = fallback.get(s);
            return id == null ? -1 : id;
        }
        int id = idOfPresent(hash(s, 0));
        return id >= 0 && byId[id].equals(s) ? id : -1;
    }

    /** The vocab's token of each id (length: largest id + 1; null for gaps). */
    String[] tokensById() {
        if (unique) {
            int max = byId.length - 1;
            while (max >= 0 && byId[max] == null) max--;
            return Arrays.copyOf(byId, max + 1);
        }
        int max = -1;
        for (int id : fallback.values()) max = Math.max(max, id);
        String[] out = new String[max + 1];
        fallback.forEach((k, id) -> out[id] = k);
        return out;
    }

    /** Calls f for every (token, id). */
    void forEach(java.util.function.ObjIntConsumer<String> f) {
        if (!unique) {
            fallback.forEach(f::accept);
            return;
        }
        for (int id = 0; id < byId.length; id++) if (byId[id] != null) f.accept(byId[id], id);
    }

    boolean isUnique() {
        return unique;
    }
}
