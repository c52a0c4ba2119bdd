package bitnet.io.tokenizer;

import java.util.Arrays;

/** A growable int array for token ids; avoids boxing on the encode path. Not thread-safe. */
final class IntList {
    private int[] a;
    private int n;

    IntList(int cap) {
        a = new int[Math.max(4, cap)];
    }

    void add(int v) {
        if (n == a.length) a = Arrays.copyOf(a, n * 2);
        a[n++] = v;
    }

    void addAll(int[] vs) {
        if (n + vs.length > a.length) a = Arrays.copyOf(a, Math.max(n * 2, n + vs.length));
        System.arraycopy(vs, 0, a, n, vs.length);
        n += vs.length;
    }

    /** Sets field f (0..2) of the last (start, end, flag) triple stored in this list. */
    void setInLastTriple(int f, int v) {
        a[n - 3 + f] = v;
    }

    int size() {
        return n;
    }

    int[] toArray() {
        return Arrays.copyOf(a, n);
    }
}
