package bitnet.engine.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Regression tests for the data-loss cases of the careless-user pass: an output never is,
 * contains or lies inside an input, never replaces a device or a file this engine did not write,
 * and --overwrite replaces only the engine's own outputs. Each case checks that the input is
 * byte-for-byte unchanged afterwards.
 */
class DataLossTest {
    @TempDir
    Path tmp;

    Path llamaCopy() {
        Path d = tmp.resolve("llama");
        Cli.copyDir(Cli.hfTiny("llama"), d);
        return d;
    }

    /** Every file under dir with its bytes, to compare before and after. */
    static List<Object> snapshot(Path dir) throws IOException {
        List<Object> s = new ArrayList<>();
        try (Stream<Path> w = Files.walk(dir)) {
            for (Path p : w.sorted().toList()) {
                s.add(dir.relativize(p).toString());
                if (Files.isRegularFile(p)) {
                    s.add(Files.readAllBytes(p));
                }
            }
        }
        return s;
    }

    static void assertSame(List<Object> a, List<Object> b) {
        assertEquals(a.size(), b.size(), "file count changed");
        for (int i = 0; i < a.size(); i++) {
            if (a.get(i) instanceof byte[] x) {
                assertArrayEquals(x, (byte[]) b.get(i), "contents changed: " + a.get(i - 1));
            } else {
                assertEquals(a.get(i), b.get(i));
            }
        }
    }

    @Test
    void compressOutputEqualToModelIsRefused() throws IOException {
        Path m = llamaCopy();
        var before = snapshot(m);
        Cli.run("compress", "--model", m.toString(), "--output", m.toString(), "--overwrite", "--no-fine-tune")
                .badInput("llama");
        assertSame(before, snapshot(m));
    }

    @Test
    void compressOutputContainingModelIsRefused() throws IOException {
        Path outer = tmp.resolve("outer");
        Path m = outer.resolve("model");
        Cli.copyDir(Cli.hfTiny("llama"), m);
        var before = snapshot(m);
        Cli.run("compress", "--model", m.toString(), "--output", outer.toString(), "--overwrite", "--no-fine-tune")
                .badInput("outer");
        assertSame(before, snapshot(m));
        Cli.run(
                        "compress",
                        "--model",
                        m.toString(),
                        "--output",
                        m.resolve("inside").toString(),
                        "--no-fine-tune")
                .badInput("inside");
        assertSame(before, snapshot(m));
    }

    @Test
    void compressOverAForeignDirectoryIsRefused() throws IOException {
        Path m = llamaCopy();
        Path mine = tmp.resolve("precious");
        Files.createDirectories(mine);
        Files.writeString(mine.resolve("notes.txt"), "keep me");
        Cli.run("compress", "--model", m.toString(), "--output", mine.toString(), "--overwrite", "--no-fine-tune")
                .badInput("precious");
        assertEquals("keep me", Files.readString(mine.resolve("notes.txt")));
    }

    @Test
    void compressOutputOverItsDataIsRefused() throws IOException {
        Path m = llamaCopy();
        Path data = tmp.resolve("data.txt");
        Files.writeString(data, "some calibration text ".repeat(100));
        Cli.run(
                        "compress",
                        "--model",
                        m.toString(),
                        "--output",
                        data.toString(),
                        "--overwrite",
                        "--no-fine-tune",
                        "--calibration-data",
                        data.toString())
                .badInput("data.txt");
        assertTrue(Files.readString(data).startsWith("some calibration"));
    }

    @Test
    void logitsIntoTheModelIsRefused() throws IOException {
        Path m = llamaCopy();
        var before = snapshot(m);
        Cli.run(
                        "logits",
                        "--model",
                        m.toString(),
                        "--ids",
                        "1,2,3",
                        "--out",
                        m.resolve("model.safetensors").toString(),
                        "--overwrite")
                .badInput("model.safetensors");
        Cli.run(
                        "grads",
                        "--model",
                        m.toString(),
                        "--ids",
                        "1,2,3",
                        "--out",
                        m.resolve("new.safetensors").toString())
                .badInput("new.safetensors");
        Path link = tmp.resolve("link.safetensors");
        Files.createSymbolicLink(link, m.resolve("model.safetensors"));
        Cli.run("logits", "--model", m.toString(), "--ids", "1,2,3", "--out", link.toString(), "--overwrite")
                .badInput("link");
        assertSame(before, snapshot(m));
    }

    @Test
    void overwriteReplacesOnlyOurOwnFiles() throws IOException {
        Path m = llamaCopy();
        Path out = tmp.resolve("o.safetensors");
        Files.writeString(out, "a file the user wrote");
        Cli.run("logits", "--model", m.toString(), "--ids", "1,2,3", "--out", out.toString(), "--overwrite")
                .badInput("o.safetensors");
        assertEquals("a file the user wrote", Files.readString(out));
        Files.delete(out);
        Cli.run("logits", "--model", m.toString(), "--ids", "1,2,3", "--out", out.toString())
                .ok();
        Cli.run("logits", "--model", m.toString(), "--ids", "1,2,3", "--out", out.toString())
                .badInput("o.safetensors");
        Cli.run("logits", "--model", m.toString(), "--ids", "1,2,3", "--out", out.toString(), "--overwrite")
                .ok();
    }

    @Test
    void devicesAndDanglingLinksAreRefused() throws IOException {
        Path m = llamaCopy();
        Path dev = Path.of("/dev/null");
        Cli.run("logits", "--model", m.toString(), "--ids", "1,2", "--out", dev.toString(), "--overwrite")
                .badInput("/dev/null");
        assertFalse(Files.isRegularFile(dev), "/dev/null was replaced by a regular file");
        Path dangling = tmp.resolve("dangling");
        Files.createSymbolicLink(dangling, tmp.resolve("nowhere"));
        Cli.run("compress", "--model", m.toString(), "--output", dangling.toString(), "--no-fine-tune")
                .badInput("dangling");
        assertFalse(Files.exists(tmp.resolve("dangling.partial")), "left a .partial behind");
        assertFalse(Files.exists(tmp.resolve("dangling.lock")), "left a .lock behind");
    }

    @Test
    void finetuneOutputOverItsModelIsRefused() throws IOException {
        Path m = llamaCopy();
        Path data = tmp.resolve("d.txt");
        Files.writeString(data, "hello world ".repeat(200));
        var before = snapshot(m);
        Cli.run(
                        "finetune",
                        "--model",
                        m.toString(),
                        "--data",
                        data.toString(),
                        "--output",
                        m.toString(),
                        "--overwrite",
                        "--steps",
                        "1")
                .badInput("llama");
        assertSame(before, snapshot(m));
    }
}
