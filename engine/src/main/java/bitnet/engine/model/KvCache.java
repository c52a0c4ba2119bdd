package bitnet.engine.model;

import bitnet.kernels.Buf;

/** Keys and values of past positions, per layer, for generation (batch 1): (maxT, NKV, HS) each. */
public final class KvCache implements AutoCloseable {
    public final Buf[] keys;
    public final Buf[] values;
    public final int maxT;
    /** Positions filled so far. */
    public int length;
    /** The ids of those positions (a model whose RoPE changes with the length recomputes from them). */
    final int[] ids;

    public KvCache(Buf[] keys, Buf[] values, int maxT) {
        this.keys = keys;
        this.values = values;
        this.maxT = maxT;
        this.ids = new int[maxT];
    }

    @Override
    public void close() {
        for (Buf b : keys) {
            b.close();
        }
        for (Buf b : values) {
            b.close();
        }
    }
}
