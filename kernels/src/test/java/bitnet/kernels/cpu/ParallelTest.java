package bitnet.kernels.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import org.junit.jupiter.api.Test;

/** The CPU thread pool: every index once, chunking, failures, nesting. */
class ParallelTest {

    @Test
    void everyTaskRunsOnce() {
        try (Parallel p = new Parallel(2)) {
            for (int n : new int[] {0, 1, 7, 13, 255}) {
                AtomicIntegerArray seen = new AtomicIntegerArray(Math.max(n, 1));
                for (int rep = 0; rep < 50; rep++) {
                    p.forTasks(n, seen::incrementAndGet);
                }
                for (int i = 0; i < n; i++) {
                    assertEquals(50, seen.get(i), "task " + i + " of " + n);
                }
            }
        }
    }

    @Test
    void chunksCoverTheRangeInOrder() {
        try (Parallel p = new Parallel(2)) {
            int n = 1001;
            int[] owner = new int[n];
            p.forChunks(n, 100, (c, lo, hi) -> {
                for (int i = lo; i < hi; i++) {
                    owner[i] = c + 1;
                }
            });
            assertEquals(2, p.chunkCount(n, 100));
            for (int i = 1; i < n; i++) {
                assertEquals(true, owner[i] >= owner[i - 1] && owner[i] > 0, "index " + i);
            }
            assertEquals(1, p.chunkCount(150, 100));
        }
    }

    @Test
    void failuresPropagateAndThePoolSurvives() {
        try (Parallel p = new Parallel(2)) {
            for (int rep = 0; rep < 10; rep++) {
                int bad = rep % 7;
                assertThrows(
                        IllegalStateException.class,
                        () -> p.forTasks(7, i -> {
                            if (i == bad) {
                                throw new IllegalStateException("task " + i);
                            }
                        }));
            }
            AtomicInteger sum = new AtomicInteger();
            p.forTasks(100, sum::addAndGet);
            assertEquals(4950, sum.get());
        }
    }

    @Test
    void jitCountsAsBusyOverAQuarterOfTheInterval() {
        assertEquals(true, Parallel.Jit.compiling(100_000_000L, 30));
        assertEquals(false, Parallel.Jit.compiling(100_000_000L, 25));
        assertEquals(false, Parallel.Jit.compiling(200_000_000L, 40));
        assertEquals(true, Parallel.Jit.compiling(200_000_000L, 51));
    }

    @Test
    void nestedCallsRunInline() {
        try (Parallel p = new Parallel(2)) {
            AtomicInteger count = new AtomicInteger();
            p.forTasks(4, i -> p.forTasks(5, j -> count.incrementAndGet()));
            assertEquals(20, count.get());
        }
    }
}
