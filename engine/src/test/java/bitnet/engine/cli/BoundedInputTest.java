package bitnet.engine.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import bitnet.engine.data.TextData;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 16, round 2: compress's calibration and evaluation text is read up to the heap's text
 * limit (a prefix cut at a pre-token boundary, a .jsonl line by line, a directory file by file;
 * never a whole huge file), and a compress output whose packed scales or kept values hold NaN/Inf
 * is refused when loaded (ppl, generate and logits on a packed directory), naming the file and tensor.
 */
class BoundedInputTest {
    @TempDir
    Path tmp;

    private static String limited(int chars, Path p) {
        System.setProperty("bitnet.maxTextChars", Integer.toString(chars));
        try {
            return TextData.read(p);
        } finally {
            System.clearProperty("bitnet.maxTextChars");
        }
    }

    @Test
    void calibrationTextIsReadUpToTheLimitOnly() throws IOException {
        String words = "the whale swam on ".repeat(500); // 9,000 characters
        Path txt = tmp.resolve("a.txt");
        Files.writeString(txt, words);
        String s = limited(1000, txt);
        assertTrue(s.length() <= 1000 && s.length() > 900, "length " + s.length());
        assertTrue(words.startsWith(s), "a prefix of the file");
        assertFalse(Character.isWhitespace(s.charAt(s.length() - 1)) && s.endsWith("  "), s);
        assertEquals(words, limited(100_000, txt), "under the limit: the whole file");

        Path jsonl = tmp.resolve("b.jsonl");
        StringBuilder lines = new StringBuilder();
        for (int i = 0; i < 200; i++) {
            lines.append("{\"text\": \"line ").append(i).append(" of the corpus\"}\n");
        }
        Files.writeString(jsonl, lines);
        String j = limited(500, jsonl);
        assertTrue(j.length() <= 500 && j.startsWith("line 0 of the corpus\n\nline 1 "), j);

        Path dir = tmp.resolve("dir");
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("1.txt"), words);
        Files.writeString(dir.resolve("2.txt"), "second file");
        String d = limited(20_000, dir);
        assertEquals(words + "\n\nsecond file", d);
        String d2 = limited(5_000, dir);
        assertTrue(d2.length() <= 5_000 && words.startsWith(d2), "the first file's prefix only");
    }

    @Test
    void aNonUtf8CalibrationFileIsBadInputEvenWhenCut() throws IOException {
        Path f = tmp.resolve("bad.txt");
        byte[] b = "hello world ".repeat(10).getBytes(StandardCharsets.UTF_8);
        b[3] = (byte) 0xff;
        Files.write(f, b);
        System.setProperty("bitnet.maxTextChars", "50");
        try {
            Cli.Result r = Cli.run(
                    "compress",
                    "--model",
                    Cli.hfTiny("llama").toString(),
                    "--output",
                    tmp.resolve("o").toString(),
                    "--calibration-data",
                    f.toString());
            r.badInput("bad.txt");
            assertTrue(r.errorLine().contains("UTF-8"), r.errorLine());
            assertFalse(Files.exists(tmp.resolve("o")));
        } finally {
            System.clearProperty("bitnet.maxTextChars");
        }
    }

    /** The F32 or BF16 tensor of the packed file whose name contains part and ends in suffix: its first value set to v. */
    private static String poison(Path file, String part, String suffix, float v) throws IOException {
        byte[] b = Files.readAllBytes(file);
        long hdr = ByteBuffer.wrap(b, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        JsonNode h = Cli.JSON.readTree(new String(b, 8, (int) hdr, StandardCharsets.UTF_8));
        for (Iterator<Map.Entry<String, JsonNode>> it = h.fields(); it.hasNext(); ) {
            var e = it.next();
            String dt = e.getValue().path("dtype").asText();
            if (e.getKey().contains(part) && e.getKey().endsWith(suffix) && (dt.equals("F32") || dt.equals("BF16"))) {
                int off =
                        (int) (8 + hdr + e.getValue().get("data_offsets").get(0).asLong());
                ByteBuffer bb = ByteBuffer.wrap(b, off, 4).order(ByteOrder.LITTLE_ENDIAN);
                if (dt.equals("F32")) {
                    bb.putFloat(v);
                } else {
                    bb.putShort((short) (Float.floatToRawIntBits(v) >>> 16));
                }
                Files.write(file, b);
                return e.getKey();
            }
        }
        throw new AssertionError("no F32 tensor ending in " + suffix + " in " + h);
    }

    @Test
    void aPackedOutputWithNonFiniteScalesIsRefusedWhenLoaded() throws IOException {
        Path out = tmp.resolve("packed");
        Cli.Result c = Cli.run(
                "compress",
                "--model",
                Cli.demoModel().toString(),
                "--output",
                out.toString(),
                "--no-fine-tune",
                "--streaming",
                "on",
                "--max-accuracy-drop",
                "100",
                "--target-ratio",
                "1");
        assertEquals(0, c.code(), c.err());
        Path file = out.resolve("bitnet_quantized_model.safetensors");
        Cli.run(
                        "logits",
                        "--model",
                        out.toString(),
                        "--ids",
                        "1,2,3",
                        "--out",
                        tmp.resolve("ok.st").toString())
                .ok();
        // a ternary linear layer's scales, the int8 embedding's, a norm kept as stored
        String[][] poisons = {
            {"q_proj", ".scale", "NaN"},
            {"embed_tokens", ".int8_scale", "Infinity"},
            {"norm.weight", "norm.weight", "Infinity"}
        };
        for (String[] p : poisons) {
            Path copy = tmp.resolve("copy-" + p[0]);
            Cli.copyDir(out, copy);
            String tensor = poison(copy.resolve(file.getFileName()), p[0], p[1], Float.parseFloat(p[2]));
            Path o = tmp.resolve("l-" + p[0] + ".safetensors");
            for (String[] cmd : new String[][] {
                {"logits", "--model", copy.toString(), "--ids", "1,2,3", "--out", o.toString()},
                {"generate", "--model", copy.toString(), "--ids", "1", "--max-new", "2"},
                {"ppl", "--model", copy.toString(), "--text", Cli.demoHeldout().toString(), "--windows", "1"}
            }) {
                Cli.Result r = Cli.run(cmd);
                r.badInput("bitnet_quantized_model.safetensors");
                String name =
                        tensor.substring(0, tensor.lastIndexOf(p[1]) + (p[1].startsWith(".") ? 0 : p[1].length()));
                assertTrue(r.errorLine().contains(name), r.errorLine());
                assertTrue(r.errorLine().contains(p[2].equals("NaN") ? "NaN" : "Inf"), r.errorLine());
                assertFalse(Files.exists(o), cmd[0] + " wrote an output");
            }
        }
    }
}
