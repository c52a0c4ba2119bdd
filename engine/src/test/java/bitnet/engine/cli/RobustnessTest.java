package bitnet.engine.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import bitnet.engine.util.OutputDir;
import bitnet.io.tokenizer.Tokenizer;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The issue-16 cases besides config values: bounded text (ppl reads only the prefix its windows
 * need and scores the same windows; tokenize refuses a file above the limit at once), --jsonl
 * blank lines, out-of-vocabulary detokenize, one JSON object on every --json error, non-finite
 * weights refused by every command, stale and foreign locks, and no .partial/.lock after an
 * early error.
 */
class RobustnessTest {
    @TempDir
    Path tmp;

    private static String heldout() throws IOException {
        return Files.readString(Cli.demoHeldout(), StandardCharsets.UTF_8);
    }

    @Test
    void pplPrefixGivesTheSameTokensAsTheWholeText() throws IOException {
        Tokenizer tok = Tokenizer.load(Cli.demoModel());
        String text = heldout().replace('\n', ' ');
        Path f = tmp.resolve("one-line.txt");
        Files.writeString(f, text.repeat(3), StandardCharsets.UTF_8); // far more than the first prefix
        int[] whole = tok.encode(text.repeat(3));
        for (long need : new long[] {257, 2 * 256 + 1, 20_000}) {
            int[] ids = bitnet.api.TextFiles.firstTokens(tok::encode, f, need);
            assertTrue(ids.length >= need, "got " + ids.length + " tokens for " + need);
            assertArrayEquals(
                    Arrays.copyOf(whole, (int) need),
                    Arrays.copyOf(ids, (int) need),
                    "first tokens differ for need " + need);
        }
    }

    @Test
    void pplOnAHugeOneLineFileReadsOnlyItsPrefix() throws IOException {
        Path f = tmp.resolve("huge.txt");
        String chunk = heldout().replace('\n', ' ');
        try (Writer w = Files.newBufferedWriter(f, StandardCharsets.UTF_8)) {
            for (long n = 0; n < 50L << 20; n += chunk.length()) {
                w.write(chunk);
            }
        }
        Tokenizer tok = Tokenizer.load(Cli.demoModel());
        long t0 = System.nanoTime();
        int[] ids = bitnet.api.TextFiles.firstTokens(tok::encode, f, 64 * 256 + 1);
        double s = (System.nanoTime() - t0) / 1e9;
        assertTrue(ids.length >= 64 * 256 + 1, "tokens " + ids.length);
        System.err.printf("[robust] 50 MB one-line file: %d tokens for 64 windows in %.2f s%n", ids.length, s);
        assertTrue(s < 20, "took " + s + " s"); // < 2 s on an idle machine; generous for a shared CI box
    }

    @Test
    void tokenizeRefusesAFileAboveTheLimitAtOnce() throws IOException {
        Path f = tmp.resolve("big.txt");
        Files.writeString(f, "a b c ".repeat(1000));
        System.setProperty("bitnet.maxTextChars", "1000");
        try {
            Cli.Result r =
                    Cli.run("tokenize", "--tokenizer", Cli.demoModel().toString(), "--file", f.toString(), "--json");
            r.badInput("big.txt");
            assertTrue(r.errorLine().contains("too large"), r.errorLine());
            assertFalse(r.json().get("success").asBoolean());
        } finally {
            System.clearProperty("bitnet.maxTextChars");
        }
    }

    @Test
    void aBlankJsonlLineGivesAnEmptyRowAndShiftsNothing() throws IOException {
        Path f = tmp.resolve("in.jsonl");
        Files.writeString(f, "\"Hello world\"\n\n\"Once upon\"\n");
        Cli.Result r = Cli.run("tokenize", "--tokenizer", Cli.demoModel().toString(), "--jsonl", f.toString())
                .ok();
        List<String> lines = r.out().lines().toList();
        assertEquals(3, lines.size(), r.out());
        Tokenizer tok = Tokenizer.load(Cli.demoModel());
        assertArrayEquals(tok.encode("Hello world"), Cli.ints(Cli.JSON.readTree(lines.get(0))));
        assertEquals(0, Cli.JSON.readTree(lines.get(1)).size());
        assertArrayEquals(tok.encode("Once upon"), Cli.ints(Cli.JSON.readTree(lines.get(2))));
    }

    @Test
    void detokenizeRefusesOutOfVocabularyIds() {
        Cli.Result r = Cli.run("detokenize", "--tokenizer", Cli.demoModel().toString(), "--ids", "1,8192", "--json");
        r.usage();
        assertTrue(r.json().get("error").asText().contains("8192"), r.out());
        Cli.run("detokenize", "--tokenizer", Cli.demoModel().toString(), "--ids", "1,-3")
                .usage();
    }

    @Test
    void everyCommandPrintsOneJsonObjectOnError() {
        String none = tmp.resolve("missing").toString();
        String o = tmp.resolve("o.safetensors").toString();
        String[][] cmds = {
            {"inspect", "--model", none},
            {"tokenize", "--tokenizer", none, "--text", "x"},
            {"detokenize", "--tokenizer", none, "--ids", "1"},
            {"logits", "--model", none, "--ids", "1", "--out", o},
            {"grads", "--model", none, "--ids", "1", "--out", o},
            {"train-steps", "--model", none, "--ids", "1,2", "--steps", "1", "--out", o},
            {"ppl", "--model", none, "--text", none},
            {"generate", "--model", none, "--ids", "1", "--max-new", "1"},
            {
                "finetune",
                "--model",
                none,
                "--data",
                none,
                "--output",
                tmp.resolve("f").toString()
            },
            {"compress", "--model", none, "--output", tmp.resolve("c").toString()},
            {"gradient-flow", "--model", none},
            {"speed", "--model", none},
            {"speed", "--model", none, "--no-such-flag"},
            {"logits", "--model", none}
        };
        for (String[] c : cmds) {
            String[] a = Arrays.copyOf(c, c.length + 1);
            a[c.length] = "--json";
            Cli.Result r = Cli.run(a);
            assertTrue(
                    r.code() == 2 || r.code() == 3, () -> String.join(" ", c) + ": exit " + r.code() + "\n" + r.err());
            JsonNode j = r.json();
            assertFalse(j.get("success").asBoolean(), r.out());
            assertTrue(j.get("error").asText().length() > 5, r.out());
            assertEquals(r.code(), j.get("exit_code").asInt());
        }
    }

    @Test
    void weightsHoldingNaNAreRefusedByEveryCommand() throws IOException {
        Path m = tmp.resolve("nan");
        Cli.copyDir(Cli.hfTiny("llama"), m);
        Path st = m.resolve("model.safetensors");
        byte[] b = Files.readAllBytes(st);
        long hdr = java.nio.ByteBuffer.wrap(b, 0, 8)
                .order(java.nio.ByteOrder.LITTLE_ENDIAN)
                .getLong();
        JsonNode h = Cli.JSON.readTree(new String(b, 8, (int) hdr, StandardCharsets.UTF_8));
        JsonNode t = h.get("model.norm.weight");
        assertEquals("F32", t.get("dtype").asText());
        int off = (int) (8 + hdr + t.get("data_offsets").get(0).asLong());
        java.nio.ByteBuffer.wrap(b, off, 4)
                .order(java.nio.ByteOrder.LITTLE_ENDIAN)
                .putFloat(Float.NaN);
        Files.write(st, b);
        Path text = tmp.resolve("t.txt");
        Files.writeString(text, "x");
        String o = tmp.resolve("o.safetensors").toString();
        for (String[] c : new String[][] {
            {"logits", "--ids", "1,2", "--out", o},
            {"grads", "--ids", "1,2", "--out", o},
            {"generate", "--ids", "1", "--max-new", "2"},
            {"train-steps", "--ids", "1,2", "--steps", "1", "--out", o},
            {"gradient-flow", "--ids", "1,2"}
        }) {
            String[] a = new String[c.length + 2];
            a[0] = c[0];
            a[1] = "--model";
            a[2] = m.toString();
            System.arraycopy(c, 1, a, 3, c.length - 1);
            Cli.Result r = Cli.run(a);
            r.badInput("model.safetensors");
            assertTrue(r.errorLine().contains("NaN"), r.errorLine());
            assertFalse(Files.exists(Path.of(o)), c[0] + " wrote an output");
        }
    }

    @Test
    void aLockHeldByAnUnrelatedLiveProcessIsTakenOver() throws Exception {
        Process sleeper = new ProcessBuilder("sleep", "60").start();
        try {
            Path out = tmp.resolve("out");
            Files.writeString(tmp.resolve("out.lock"), sleeper.pid() + "\n");
            try (OutputDir d = OutputDir.begin(out, false, false, List.of())) {
                assertTrue(Files.isDirectory(d.dir()));
            }
            assertFalse(Files.exists(tmp.resolve("out.lock")), "lock left behind");
            assertFalse(Files.exists(tmp.resolve("out.partial")), "a failed (uncommitted) run left its .partial");
        } finally {
            sleeper.destroy();
        }
    }

    @Test
    void aLockOfALiveBitnetRunIsRespected() throws IOException {
        Path out = tmp.resolve("busy");
        Files.writeString(tmp.resolve("busy.lock"), ProcessHandle.current().pid() + "\n");
        var e = org.junit.jupiter.api.Assertions.assertThrows(
                bitnet.io.BadInputException.class, () -> OutputDir.begin(out, false, false, List.of()));
        assertTrue(e.getMessage().contains("another run"), e.getMessage());
        assertTrue(Files.exists(tmp.resolve("busy.lock")), "a live run's lock was removed");
    }

    @Test
    void anEarlyCompressErrorLeavesNoPartialNorLock() throws IOException {
        Path m = tmp.resolve("bad");
        Cli.copyDir(Cli.hfTiny("llama"), m);
        Files.writeString(m.resolve("model.safetensors"), "not a safetensors file at all");
        Path out = tmp.resolve("out");
        Cli.run("compress", "--model", m.toString(), "--output", out.toString(), "--no-fine-tune", "--streaming", "off")
                .badInput("model.safetensors");
        for (String s : new String[] {"", ".partial", ".lock"}) {
            assertFalse(Files.exists(Path.of(out + s)), "left " + out + s);
        }
    }
}
