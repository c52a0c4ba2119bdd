package bitnet.kernels.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.DataInputStream;
import java.io.FileInputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Every CPU kernel gives the same bits in every JIT tier (a resumed training run starts with a
 * cold JIT and must match an uninterrupted one bit for bit). The outputs of the first call here
 * must survive a couple of thousand calls in this JVM while C2 compiles the ops (SVML exp showed up
 * after ~550), and must equal what a child JVM computes that only interprets (-Xint: the Vector API's
 * Java fallbacks), in case this JVM had compiled the ops before the first call. (A -Xcomp child
 * does not help: it did not intrinsify the Vector API calls.)
 */
class TierDeterminismTest {
    private static final int CALLS = 2000;

    @Test
    void sameBitsBeforeAndAfterC2AndInTheInterpreter() throws Exception {
        Path tInt = Files.createTempFile("tierprobe-int", ".bin");
        Process interp = startChild(tInt, 1, "-Xint");
        Map<String, float[]> first;
        try (VectorKernels k = new VectorKernels(2)) {
            first = TierProbe.runAll(k);
            for (int it = 1; it <= CALLS; it++) {
                int call = it;
                Map<String, float[]> now = TierProbe.runAll(k);
                for (var e : first.entrySet()) {
                    String diff = TierProbe.firstDiff(e.getValue(), now.get(e.getKey()));
                    assertNull(
                            diff, () -> e.getKey() + " changed bits at call " + call + " (JIT tier change): " + diff);
                }
            }
        }
        compare(first, interp, tInt, "interpreter (-Xint)");
    }

    private static void compare(Map<String, float[]> first, Process child, Path file, String what) throws Exception {
        assertTrue(child.waitFor(120, TimeUnit.SECONDS), what + " child timed out");
        String err = new String(child.getErrorStream().readAllBytes());
        assertEquals(0, child.exitValue(), what + " child failed: " + err);
        Map<String, float[]> other = read(file);
        Files.deleteIfExists(file);
        assertEquals(first.keySet(), other.keySet());
        List<String> bad = new ArrayList<>();
        for (var e : first.entrySet()) {
            String diff = TierProbe.firstDiff(other.get(e.getKey()), e.getValue());
            if (diff != null) {
                bad.add(e.getKey() + " (" + diff + ")");
            }
        }
        assertTrue(bad.isEmpty(), what + " vs this JVM: bits differ in " + bad);
    }

    private static Process startChild(Path out, int reps, String... flags) throws IOException {
        List<String> cmd = new ArrayList<>(
                List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString()));
        cmd.addAll(List.of(flags));
        cmd.addAll(List.of(
                "--add-modules",
                "jdk.incubator.vector",
                "--enable-native-access=ALL-UNNAMED",
                "-cp",
                System.getProperty("java.class.path"),
                TierProbe.class.getName(),
                out.toString(),
                Integer.toString(reps)));
        return new ProcessBuilder(cmd)
                .redirectOutput(ProcessBuilder.Redirect.DISCARD)
                .start();
    }

    private static Map<String, float[]> read(Path p) throws IOException {
        Map<String, float[]> m = new LinkedHashMap<>();
        try (DataInputStream in = new DataInputStream(new FileInputStream(p.toFile()))) {
            int n = in.readInt();
            for (int i = 0; i < n; i++) {
                String name = in.readUTF();
                float[] a = new float[in.readInt()];
                for (int j = 0; j < a.length; j++) {
                    a[j] = Float.intBitsToFloat(in.readInt());
                }
                m.put(name, a);
            }
        }
        return m;
    }
}
