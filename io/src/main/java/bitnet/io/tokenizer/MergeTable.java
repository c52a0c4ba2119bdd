package bitnet.io.tokenizer;

import java.util.Arrays;

/**
 * BPE merges as an open-addressing table from the id pair (left << 32 | right) to the merge's
 * rank, and the merged token's id per rank. 12 bytes a slot at a load factor of at most 0.6:
 * about 12 MB for Gemma 3's 514,906 merges (a HashMap of pairs would be ~80 MB). Read-only after
 * load, so safe for concurrent encoders.
 */
final class MergeTable {
    private static final long EMPTY = -1L; // no key is -1: ids are below 2^24

    private final long[] keys; // (cap)
    private final int[] ranks; // (cap)
    private final int[] newIds; // (merges) id of the merged token, by rank

    /** The table of merges read from the file (rank = index; a later merge of the same pair wins, as in HF). */
    MergeTable(TokenizerJson.Merges ms) {
        int n = ms.n;
        int cap = 16;
        while (cap * 0.6 < n) cap <<= 1;
        keys = new long[cap];
        Arrays.fill(keys, EMPTY);
        ranks = new int[cap];
        newIds = Arrays.copyOf(ms.merged, Math.max(1, n));
        // Inserted in the order of their home slots (a stable counting sort on its top bits), so
        // the table is written front to back instead of at 500 K random places.
        int mask = cap - 1, shift = Math.max(0, Integer.numberOfTrailingZeros(cap) - 12);
        int[] home = new int[n], count = new int[(cap >>> shift) + 1];
        for (int r = 0; r < n; r++) {
            home[r] = slot(key(ms.left[r], ms.right[r]), mask);
            count[(home[r] >>> shift) + 1]++;
        }
        for (int k = 1; k < count.length; k++) count[k] += count[k - 1];
        int[] order = new int[n];
        for (int r = 0; r < n; r++) order[count[home[r] >>> shift]++] = r;
        for (int r : order) put(key(ms.left[r], ms.right[r]), r, home[r]);
    }

    static long key(int left, int right) {
        return ((long) left << 32) | (right & 0xFFFFFFFFL);
    }

    private static int slot(long k, int mask) {
        long h = k * 0x9E3779B97F4A7C15L;
        return (int) (h ^ (h >>> 29)) & mask;
    }

    private void put(long k, int rank, int home) {
        int mask = keys.length - 1;
        int i = home;
        while (keys[i] != EMPTY && keys[i] != k) i = (i + 1) & mask;
        if (keys[i] != k || ranks[i] < rank) ranks[i] = rank; // the same pair twice: the later wins
        keys[i] = k;
    }

    /** Rank of the merge of (left, right), or -1. */
    int rank(int left, int right) {
        long k = key(left, right);
        int mask = keys.length - 1;
        for (int i = slot(k, mask); keys[i] != EMPTY; i = (i + 1) & mask) {
            if (keys[i] == k) return ranks[i];
        }
        return -1;
    }

    /** Id of the token that merge number rank makes. */
    int newId(int rank) {
        return newIds[rank];
    }
}
