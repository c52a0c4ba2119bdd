package bitnet.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CancellationException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Cancelling a compression from the API: a compression of the demo model (600 QAT steps, minutes
 * of work) interrupted after 10 s throws CancellationException, leaves no output directory (nor
 * OUT.partial nor the lock) and no thread it started.
 */
class CompressCancelTest {
    static final Path DEMO = Path.of("..", "src", "demo", "model");

    @TempDir
    Path tmp;

    @Test
    void interruptAfterTenSecondsLeavesNoOutputAndNoThreads() throws Exception {
        Path out = tmp.resolve("out");
        Path text = tmp.resolve("text.txt");
        Files.writeString(
                text,
                Files.readString(Path.of("..", "src", "demo", "heldout.txt")).substring(0, 60000));
        CompressSettings s = CompressSettings.builder()
                .model(DEMO)
                .output(out)
                .calibrationData(text.toString())
                .evalData(text.toString())
                .evaluation(4, 128)
                .fineTuneSteps(600)
                .device("cpu", 2)
                .build();
        Set<Thread> before = new HashSet<>(Thread.getAllStackTraces().keySet());
        AtomicReference<Throwable> thrown = new AtomicReference<>();
        AtomicInteger events = new AtomicInteger();
        AtomicBoolean interruptedAfter = new AtomicBoolean();
        Thread caller = new Thread(
                () -> {
                    try {
                        Compressor.compress(s, e -> events.incrementAndGet());
                    } catch (Throwable t) {
                        thrown.set(t);
                    }
                    interruptedAfter.set(Thread.currentThread().isInterrupted());
                },
                "compress-caller");
        caller.start();
        Thread.sleep(10_000);
        assertTrue(caller.isAlive(), "the compression should still be running after 10 s");
        caller.interrupt();
        caller.join(120_000);
        assertFalse(caller.isAlive(), "compress did not return within 2 minutes of the interrupt");
        assertTrue(
                thrown.get() instanceof CancellationException, "expected a CancellationException, got " + thrown.get());
        assertTrue(interruptedAfter.get(), "the caller's interrupt status is kept");
        assertTrue(events.get() > 0, "progress events were delivered before the cancel");
        for (String name : List.of("out", "out.partial", "out.lock")) {
            assertFalse(Files.exists(tmp.resolve(name)), name + " left behind");
        }
        // every thread the run started has ended (worker pools end asynchronously: allow a few seconds)
        List<Thread> left = List.of();
        for (int i = 0; i < 50; i++) {
            left = Thread.getAllStackTraces().keySet().stream()
                    .filter(t -> !before.contains(t) && t.isAlive())
                    .filter(t -> t.getName().startsWith("bitnet"))
                    .toList();
            if (left.isEmpty()) {
                break;
            }
            Thread.sleep(100);
        }
        assertEquals(
                List.of(), left.stream().map(Thread::getName).toList(), "threads of the cancelled run still alive");
    }
}
