package bitnet.engine.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import bitnet.engine.TestData;
import bitnet.io.SafetensorsFile;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.StringJoiner;

/**
 * Test support for the CLI tests: runs Main.run in process with stdout/stderr captured, parses
 * the one-JSON-object output, and locates the fixtures. Not a test itself.
 */
final class Cli {
    static final ObjectMapper JSON = new ObjectMapper();

    private Cli() {}

    record Result(int code, String out, String err) {
        /** stdout as exactly one JSON object: fails if anything else is on stdout. */
        JsonNode json() {
            try {
                var parser = JSON.getFactory().createParser(out);
                JsonNode n = JSON.readTree(parser);
                assertTrue(n != null && n.isObject(), () -> "stdout is not a JSON object: " + out);
                assertEquals(null, parser.nextToken(), () -> "more than one JSON value on stdout: " + out);
                return n;
            } catch (IOException e) {
                throw new AssertionError("stdout is not JSON: " + out + "\nstderr: " + err, e);
            }
        }

        Result ok() {
            assertEquals(0, code, () -> "exit code; stderr:\n" + err);
            return this;
        }

        /** A bad-input failure: exit 3, one line naming the file, no stack trace. */
        Result badInput(String fileNamePart) {
            assertEquals(3, code, () -> "exit code; stdout:\n" + out + "\nstderr:\n" + err);
            assertNoTrace();
            String line = errorLine();
            assertTrue(line.contains(fileNamePart), () -> "error line does not name '" + fileNamePart + "': " + line);
            return this;
        }

        Result usage() {
            assertEquals(2, code, () -> "exit code; stderr:\n" + err);
            assertNoTrace();
            return this;
        }

        void assertNoTrace() {
            assertFalse(err.contains("at bitnet."), () -> "stack trace on stderr:\n" + err);
            assertFalse(err.contains("Exception in thread"), () -> "stack trace on stderr:\n" + err);
        }

        /** The single "bitnet: error: ..." line. */
        String errorLine() {
            String found = null;
            for (String l : err.split("\\R")) {
                if (l.startsWith("bitnet: error:")) {
                    assertEquals(null, found, () -> "more than one error line:\n" + err);
                    found = l;
                }
            }
            assertTrue(found != null, () -> "no 'bitnet: error:' line on stderr:\n" + err);
            return found;
        }
    }

    static Result run(String... args) {
        PrintStream oldOut = System.out;
        PrintStream oldErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code;
        try (PrintStream o = new PrintStream(out, true, StandardCharsets.UTF_8);
                PrintStream e = new PrintStream(err, true, StandardCharsets.UTF_8)) {
            System.setOut(o);
            System.setErr(e);
            code = Main.run(args);
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
        Result r = new Result(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        if (r.code != 0 && !Boolean.getBoolean("cli.quiet")) {
            oldErr.println("[cli] exit " + r.code + ": " + String.join(" ", args) + "\n"
                    + r.err.lines().filter(l -> l.startsWith("bitnet:")).reduce("", (a, b) -> a + "  " + b + "\n"));
        }
        return r;
    }

    static Path hfTiny(String c) {
        return TestData.hfTiny(c);
    }

    static Path stories() {
        return TestData.resource("stories260K");
    }

    /** The repository's demo model (src/demo/model): the engine's tests run with cwd engine/. */
    static Path demoModel() {
        Path p = repo().resolve("src/demo/model");
        assertTrue(Files.isRegularFile(p.resolve("model.safetensors")), "demo model missing at " + p.toAbsolutePath());
        return p;
    }

    static Path demoHeldout() {
        Path p = repo().resolve("src/demo/heldout.txt");
        assertTrue(Files.isRegularFile(p), "demo heldout text missing at " + p.toAbsolutePath());
        return p;
    }

    static Path repo() {
        Path p = Path.of("..").toAbsolutePath().normalize();
        assertTrue(
                Files.isDirectory(p.resolve("src/demo")),
                "cannot find the repository root (src/demo) from " + Path.of("").toAbsolutePath());
        return p;
    }

    static JsonNode readJson(Path p) {
        try {
            return JSON.readTree(p.toFile());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Rows of an I64 [B,T] tensor as a --ids argument. */
    static String idsArg(long[] flat, int B, int T) {
        StringJoiner rows = new StringJoiner(";");
        for (int b = 0; b < B; b++) {
            StringJoiner r = new StringJoiner(",");
            for (int t = 0; t < T; t++) {
                r.add(Long.toString(flat[b * T + t]));
            }
            rows.add(r.toString());
        }
        return rows.toString();
    }

    static String idsArg(int... ids) {
        StringJoiner r = new StringJoiner(",");
        for (int i : ids) {
            r.add(Integer.toString(i));
        }
        return r.toString();
    }

    static int[] ints(JsonNode arr) {
        int[] r = new int[arr.size()];
        for (int i = 0; i < r.length; i++) {
            r[i] = arr.get(i).asInt();
        }
        return r;
    }

    static SafetensorsFile open(Path p, Arena arena) {
        return SafetensorsFile.open(p, arena);
    }

    /** Largest |a-b| / (abs + rel*|b|): <= 1 when every element is within abs or rel of b. */
    static double excess(float[] a, float[] b, double abs, double rel) {
        assertEquals(b.length, a.length, "length");
        double worst = 0;
        for (int i = 0; i < a.length; i++) {
            double d = Math.abs(a[i] - b[i]);
            worst = Math.max(worst, d / Math.max(abs, rel * Math.abs(b[i])));
        }
        return worst;
    }

    /** Copies a directory tree (files and subdirectories). */
    static void copyDir(Path from, Path to) {
        try (var s = Files.list(from)) {
            Files.createDirectories(to);
            for (Path f : s.toList()) {
                if (Files.isDirectory(f)) {
                    copyDir(f, to.resolve(f.getFileName().toString()));
                } else {
                    Files.copy(f, to.resolve(f.getFileName().toString()));
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
