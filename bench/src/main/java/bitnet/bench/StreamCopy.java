package bitnet.bench;

import bitnet.kernels.cpu.Parallel;

/**
 * A STREAM-like copy bandwidth probe in Java (not JMH: one number for bench/compare's table).
 * Copies a 256 MiB float array into another with 1..threads threads (System.arraycopy per chunk),
 * best of 10, and prints "stream_copy threads=T GB/s=X" counting read + write bytes, as STREAM does.
 */
public final class StreamCopy {
    private StreamCopy() {}

    public static void main(String[] args) {
        int threads = args.length > 0 ? Integer.parseInt(args[0]) : 1;
        int n = 64 << 20;
        float[] a = new float[n], b = new float[n];
        java.util.Arrays.fill(a, 1f);
        try (Parallel par = new Parallel(threads)) {
            double best = 0;
            for (int it = 0; it < 10; it++) {
                long t0 = System.nanoTime();
                par.forChunks(n, 1 << 20, (c, lo, hi) -> System.arraycopy(a, lo, b, lo, hi - lo));
                double s = (System.nanoTime() - t0) / 1e9;
                best = Math.max(best, 2.0 * 4 * n / s / 1e9);
            }
            if (b[n - 1] != 1f) {
                throw new IllegalStateException("copy failed");
            }
            System.out.printf("stream_copy threads=%d GB/s=%.1f%n", threads, best);
        }
    }
}
