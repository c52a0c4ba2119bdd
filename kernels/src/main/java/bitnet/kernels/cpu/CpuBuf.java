package bitnet.kernels.cpu;

import bitnet.kernels.Buf;

/** A CPU buffer: a plain heap float array. CPU kernels read {@link #a} directly. */
public final class CpuBuf implements Buf {
    public final float[] a;

    public CpuBuf(float[] a) {
        this.a = a;
    }

    @Override
    public long size() {
        return a.length;
    }

    /** The array behind a CPU buffer; null passes through (optional arguments). */
    public static float[] arr(Buf b) {
        return b == null ? null : ((CpuBuf) b).a;
    }
}
