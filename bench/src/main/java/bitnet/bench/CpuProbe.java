package bitnet.bench;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;

/**
 * How many cores this process actually gets right now: T threads spin for about 0.5 s and the sum
 * of their CPU times is divided by the wall time. On a shared machine a 2-thread run that reports
 * ~1.0 here cannot show 2-thread scaling, whatever the kernel does; bench/compare prints it next
 * to each measurement. Not a benchmark of anything else.
 */
public final class CpuProbe {
    private CpuProbe() {}

    static volatile long sink;

    public static void main(String[] args) throws InterruptedException {
        int threads = args.length > 0 ? Integer.parseInt(args[0]) : 2;
        ThreadMXBean mx = ManagementFactory.getThreadMXBean();
        long[] cpu = new long[threads];
        Thread[] th = new Thread[threads];
        long t0 = System.nanoTime();
        for (int i = 0; i < threads; i++) {
            int id = i;
            th[i] = new Thread(() -> {
                long end = System.nanoTime() + 500_000_000L, x = 0;
                while (System.nanoTime() < end) {
                    for (int k = 0; k < 10_000; k++) {
                        x += k * 31L ^ x;
                    }
                }
                sink = x;
                cpu[id] = mx.getCurrentThreadCpuTime();
            });
            th[i].start();
        }
        for (Thread t : th) {
            t.join();
        }
        double wall = System.nanoTime() - t0;
        long sum = 0;
        for (long c : cpu) {
            sum += c;
        }
        System.out.printf("cores available to %d threads: %.2f%n", threads, sum / wall);
    }
}
