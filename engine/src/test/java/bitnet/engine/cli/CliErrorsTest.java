package bitnet.engine.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Exit codes of cli.md: 2 for usage errors, 3 for bad input with one line naming the file and no
 * stack trace. The hostile model directories are copies of hf-tiny fixtures, corrupted here.
 */
class CliErrorsTest {
    @TempDir
    Path tmp;

    Path llamaCopy() {
        Path d = tmp.resolve("llama");
        Cli.copyDir(Cli.hfTiny("llama"), d);
        return d;
    }

    /** Every command answers --help with its usage, exit 0, and no picocli format warning. */
    @Test
    void everyCommandHasHelp() {
        for (String cmd : new String[] {
            "inspect",
            "tokenize",
            "detokenize",
            "logits",
            "grads",
            "train-steps",
            "ppl",
            "generate",
            "finetune",
            "compress",
            "gradient-flow",
            "speed"
        }) {
            Cli.Result r = Cli.run(cmd, "--help");
            assertEquals(0, r.code(), cmd + " --help: " + r.err());
            assertTrue(r.out().contains("Usage: bitnet " + cmd), cmd + " --help printed: " + r.out());
            assertFalse(r.err().contains("WARN") || r.out().contains("WARN"), cmd + " --help warned: " + r.err());
        }
        assertTrue(Cli.run("compress", "--help").out().contains("else 2% held out"));
    }

    /** Runs logits on a model dir (expected to fail) and checks nothing was written. */
    Cli.Result logits(Path model) {
        Path out = tmp.resolve("out.safetensors");
        Cli.Result r = Cli.run("logits", "--model", model.toString(), "--ids", "1,2,3", "--out", out.toString());
        assertFalse(Files.exists(out), "an output was written despite the error");
        return r;
    }

    static byte[] header(byte[] file) {
        long n = ByteBuffer.wrap(file).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
        return Arrays.copyOfRange(file, 8, 8 + (int) n);
    }

    /** The same data under a new header. */
    static byte[] withHeader(byte[] file, JsonNode header) throws IOException {
        long n = ByteBuffer.wrap(file).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
        byte[] h = Cli.JSON.writeValueAsBytes(header);
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        o.writeBytes(ByteBuffer.allocate(8)
                .order(ByteOrder.LITTLE_ENDIAN)
                .putLong(h.length)
                .array());
        o.writeBytes(h);
        o.write(file, 8 + (int) n, file.length - 8 - (int) n);
        return o.toByteArray();
    }

    ObjectNode editHeader(Path st) throws IOException {
        return (ObjectNode) Cli.JSON.readTree(header(Files.readAllBytes(st)));
    }

    @Test
    void usageErrorsExitWith2() {
        String m = Cli.hfTiny("llama").toString();
        String out = tmp.resolve("o.safetensors").toString();
        Cli.run("logits", "--model", m, "--ids", "1,2", "--out", out, "--bogus").usage();
        Cli.run("logits", "--model", m, "--out", out).usage(); // missing --ids
        Cli.run("logits", "--model").usage(); // missing value
        Cli.run("logits", "--model", m, "--ids", "1,2,3;4,5", "--out", out).usage(); // ragged
        Cli.run("logits", "--model", m, "--ids", "1,x", "--out", out).usage();
        Cli.run("train-steps", "--model", m, "--ids", "1,2", "--steps", "1", "--out", out, "--grokfast", "fast")
                .usage();
        Cli.run("train-steps", "--model", m, "--ids", "1,2", "--steps", "1", "--out", out, "--qat", "octal")
                .usage();
        Cli.run("generate", "--model", m, "--max-new", "3").usage(); // neither --prompt nor --ids
        Cli.run("logits", "--model", m, "--ids", "1,2", "--out", out, "--device", "bogus")
                .usage();
        Cli.run("logits", "--model", m, "--ids", "1,2", "--out", out, "--threads", "-3")
                .usage();
        Cli.run("logits", "--model", m, "--ids", "1,2,300", "--out", out).usage(); // vocab is 300
        Cli.run("frobnicate").usage();
        Cli.run().usage();
        assertFalse(Files.exists(Path.of(out)));
    }

    @Test
    void missingModelDirectory() {
        Path missing = tmp.resolve("no-such-model");
        logits(missing).badInput("no-such-model");
        Cli.run("inspect", "--model", missing.toString()).badInput("no-such-model");
        Cli.run(
                        "ppl",
                        "--model",
                        missing.toString(),
                        "--text",
                        Cli.demoHeldout().toString())
                .badInput("no-such-model");
        Cli.run("generate", "--model", missing.toString(), "--ids", "1", "--max-new", "2")
                .badInput("no-such-model");
    }

    @Test
    void truncatedSafetensors() throws IOException {
        Path d = llamaCopy();
        Path st = d.resolve("model.safetensors");
        byte[] b = Files.readAllBytes(st);
        Files.write(st, Arrays.copyOf(b, b.length - 1000));
        logits(d).badInput("model.safetensors");
        Cli.run("inspect", "--model", d.toString()).badInput("model.safetensors");
    }

    @Test
    void headerLongerThanFile() throws IOException {
        Path d = llamaCopy();
        Path st = d.resolve("model.safetensors");
        byte[] b = Files.readAllBytes(st);
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putLong(0, b.length + 4096L);
        Files.write(st, b);
        logits(d).badInput("model.safetensors");
    }

    @Test
    void overlappingOffsets() throws IOException {
        Path d = llamaCopy();
        Path st = d.resolve("model.safetensors");
        ObjectNode h = editHeader(st);
        // move the second tensor (by offset) onto the middle of the first
        var entries = new java.util.ArrayList<ObjectNode>();
        h.fields().forEachRemaining(e -> {
            if (!e.getKey().equals("__metadata__")) {
                entries.add((ObjectNode) e.getValue());
            }
        });
        entries.sort((x, y) -> Long.compare(
                x.get("data_offsets").get(0).asLong(),
                y.get("data_offsets").get(0).asLong()));
        ObjectNode second = entries.get(1);
        long len = second.get("data_offsets").get(1).asLong()
                - second.get("data_offsets").get(0).asLong();
        long start = entries.get(0).get("data_offsets").get(0).asLong() + 4;
        second.putArray("data_offsets").add(start).add(start + len);
        Files.write(st, withHeader(Files.readAllBytes(st), h));
        logits(d).badInput("model.safetensors");
    }

    @Test
    void unknownDtype() throws IOException {
        Path d = llamaCopy();
        Path st = d.resolve("model.safetensors");
        ObjectNode h = editHeader(st);
        ((ObjectNode) h.get("model.norm.weight")).put("dtype", "F12");
        Files.write(st, withHeader(Files.readAllBytes(st), h));
        Cli.Result r = logits(d).badInput("model.safetensors");
        assertTrue(r.errorLine().contains("F12"), r.errorLine());
    }

    @Test
    void configWithoutHiddenSize() throws IOException {
        Path d = llamaCopy();
        ObjectNode c = (ObjectNode) Cli.readJson(d.resolve("config.json"));
        c.remove("hidden_size");
        Files.write(d.resolve("config.json"), Cli.JSON.writeValueAsBytes(c));
        Cli.Result r = logits(d).badInput("config.json");
        assertTrue(r.errorLine().contains("hidden_size"), r.errorLine());
    }

    @Test
    void unsupportedModelType() throws IOException {
        Path d = llamaCopy();
        ObjectNode c = (ObjectNode) Cli.readJson(d.resolve("config.json"));
        c.put("model_type", "mamba");
        c.putArray("architectures").add("MambaForCausalLM");
        Files.write(d.resolve("config.json"), Cli.JSON.writeValueAsBytes(c));
        Cli.Result r = logits(d).badInput("config.json");
        assertTrue(r.errorLine().contains("mamba"), r.errorLine());
    }

    @Test
    void configNotJson() throws IOException {
        Path d = llamaCopy();
        Files.writeString(d.resolve("config.json"), "{\"model_type\": \"llama\",");
        logits(d).badInput("config.json");
    }

    /** A torch.save-shaped zip whose pickle calls os.system: refused by name, never run. */
    @Test
    void pickleNamingOsSystem() throws IOException {
        Path d = tmp.resolve("gpt2-bin");
        Cli.copyDir(Cli.hfTiny("gpt2-bin"), d);
        ByteArrayOutputStream pk = new ByteArrayOutputStream();
        pk.write(new byte[] {(byte) 0x80, 2}); // PROTO 2
        pk.write('c'); // GLOBAL os system
        pk.writeBytes("os\nsystem\n".getBytes(StandardCharsets.US_ASCII));
        byte[] cmd = ("touch " + tmp.resolve("pwned")).getBytes(StandardCharsets.US_ASCII);
        pk.write('X'); // BINUNICODE
        pk.writeBytes(ByteBuffer.allocate(4)
                .order(ByteOrder.LITTLE_ENDIAN)
                .putInt(cmd.length)
                .array());
        pk.writeBytes(cmd);
        pk.write(0x85); // TUPLE1
        pk.write('R'); // REDUCE
        pk.write('.'); // STOP
        ByteArrayOutputStream zip = new ByteArrayOutputStream();
        try (ZipOutputStream z = new ZipOutputStream(zip)) {
            z.putNextEntry(new ZipEntry("archive/data.pkl"));
            z.write(pk.toByteArray());
            z.closeEntry();
            z.putNextEntry(new ZipEntry("archive/version"));
            z.write("3\n".getBytes(StandardCharsets.US_ASCII));
            z.closeEntry();
        }
        Files.write(d.resolve("pytorch_model.bin"), zip.toByteArray());
        Cli.Result r = logits(d).badInput("pytorch_model.bin");
        assertTrue(r.errorLine().contains("os.system"), r.errorLine());
        Cli.run("inspect", "--model", d.toString()).badInput("pytorch_model.bin");
        assertFalse(Files.exists(tmp.resolve("pwned")), "the pickle ran os.system");
    }

    @Test
    void existingOutputNeedsOverwrite() throws IOException {
        String m = Cli.hfTiny("llama").toString();
        for (String cmd : new String[] {"logits", "grads", "train-steps"}) {
            Path out = tmp.resolve(cmd + ".safetensors");
            byte[] before = "keep me".getBytes(StandardCharsets.UTF_8);
            Files.write(out, before);
            String[] base = {cmd, "--model", m, "--ids", "1,2,3", "--out", out.toString()};
            String[] args = cmd.equals("train-steps") ? concat(base, "--steps", "1") : base;
            Cli.run(args).badInput(out.getFileName().toString());
            assertArrayEquals(before, Files.readAllBytes(out), cmd + " touched the existing output");
            // --overwrite replaces only a file this engine wrote: the user's own file stays
            Cli.run(concat(args, "--overwrite")).badInput(out.getFileName().toString());
            assertArrayEquals(
                    before, Files.readAllBytes(out), cmd + " --overwrite replaced a file bitnet did not write");
            Files.delete(out);
            Cli.run(args).ok();
            long first = Files.size(out);
            Cli.run(concat(args, "--overwrite")).ok();
            assertEquals(first, Files.size(out));
        }
    }

    @Test
    void missingTextFilesAndTokenizers() {
        Path missing = tmp.resolve("nothing.txt");
        Cli.run("ppl", "--model", Cli.demoModel().toString(), "--text", missing.toString())
                .badInput("nothing.txt");
        Cli.run("tokenize", "--tokenizer", Cli.demoModel().toString(), "--file", missing.toString())
                .badInput("nothing.txt");
        Cli.run("tokenize", "--tokenizer", tmp.resolve("tok.json").toString(), "--text", "hi")
                .badInput("tok.json");
        // hf-tiny has no tokenizer.json: text input names the file it needs
        Cli.run("generate", "--model", Cli.hfTiny("llama").toString(), "--prompt", "hi", "--max-new", "2")
                .badInput("tokenizer.json");
    }

    @Test
    void unusableTextFilesAreBadInput() throws IOException {
        Path shortText = tmp.resolve("short.txt");
        Files.writeString(shortText, "Hello there.");
        Cli.run("ppl", "--model", Cli.demoModel().toString(), "--text", shortText.toString())
                .badInput("short.txt");
        Path jl = tmp.resolve("broken.jsonl");
        Files.writeString(jl, "\"fine\"\n{broken\n");
        Cli.Result r = Cli.run("tokenize", "--tokenizer", Cli.demoModel().toString(), "--jsonl", jl.toString())
                .badInput("broken.jsonl");
        assertTrue(r.errorLine().contains("line 2"), r.errorLine());
        assertEquals("", r.out(), "no partial output on stdout");
        Files.writeString(jl, "\"fine\"\n42\n");
        Cli.run("tokenize", "--tokenizer", Cli.demoModel().toString(), "--jsonl", jl.toString())
                .badInput("broken.jsonl");
    }

    static String[] concat(String[] a, String... b) {
        String[] r = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }
}
