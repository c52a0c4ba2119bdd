package bitnet.engine.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * A tiny compress run on the demo model (2 fine-tuning steps, 2 evaluation windows) through the
 * command line: every output of cli.md, the results object, the compression ratio against the
 * file size, and the perplexities re-measured by `ppl` on both outputs. Then the bad inputs of
 * compress, each of which must leave the file system as it was.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class CompressCliTest {
    Path tmp;
    Path calib;
    Path eval;
    Path out;
    Cli.Result run;
    JsonNode results;

    /** A slice of the held-out text, cut at line boundaries. */
    static String slice(String text, int from, int chars) {
        int a = text.indexOf('\n', from) + 1;
        int b = text.indexOf('\n', a + chars);
        return text.substring(a, b < 0 ? text.length() : b + 1);
    }

    @BeforeAll
    void compressOnce(@TempDir Path dir) throws IOException {
        tmp = dir;
        System.setProperty("bitnet.home", Cli.repo().toString());
        String held = Files.readString(Cli.demoHeldout(), StandardCharsets.UTF_8);
        calib = tmp.resolve("calib.txt");
        eval = tmp.resolve("eval.txt");
        Files.writeString(calib, slice(held, 0, 12_000), StandardCharsets.UTF_8);
        Files.writeString(eval, slice(held, held.length() / 2, 6_000), StandardCharsets.UTF_8);
        Path config = tmp.resolve("config.json");
        Files.writeString(config, "{\"fine_tune_batch_size\": 4, \"fine_tune_sequence_length\": 128}");
        out = tmp.resolve("out");
        run = Cli.run(
                "compress",
                "--model",
                Cli.demoModel().toString(),
                "--output",
                out.toString(),
                "--config",
                config.toString(),
                "--fine-tune-steps",
                "2",
                "--eval-windows",
                "2",
                "--calibration-data",
                calib.toString(),
                "--eval-data",
                eval.toString(),
                "--distill",
                "logits+attention",
                "--distill-layers",
                "0,-1",
                "--json");
        assertTrue(run.code() == 0 || run.code() == 4, () -> "exit " + run.code() + "\n" + run.err());
        results = run.json();
        System.err.println("[compress] exit " + run.code() + " metrics " + results.get("metrics") + " timings "
                + results.get("timings_s"));
    }

    @Test
    void exitCodeAgreesWithSuccess() {
        assertEquals(run.code() == 0, results.get("success").asBoolean(), run.err());
        assertEquals(run.code() == 0, results.get("error").isNull(), results.toString());
    }

    @Test
    void writesEveryOutputFile() {
        for (String f : List.of(
                "bitnet_quantized_model.safetensors",
                "bitnet_dequantized_fp16/config.json",
                "bitnet_dequantized_fp16/model.safetensors",
                "bitnet_dequantized_fp16/tokenizer.json",
                "compression_metadata.json",
                "metrics.jsonl",
                "report.html")) {
            assertTrue(Files.isRegularFile(out.resolve(f)), "missing output " + f);
        }
        JsonNode meta = Cli.readJson(out.resolve("compression_metadata.json"));
        for (String k : List.of("method", "config", "layers", "versions")) {
            assertTrue(meta.has(k), "compression_metadata.json lacks " + k);
        }
        try {
            List<String> lines = Files.readAllLines(out.resolve("metrics.jsonl"));
            assertFalse(lines.isEmpty());
            for (String l : lines) {
                assertTrue(Cli.JSON.readTree(l).isObject(), l);
            }
            String html = Files.readString(out.resolve("report.html"));
            assertTrue(
                    html.contains("<html") && !html.contains("src=\"http"), "report.html is not a self-contained page");
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void distillationRanAndIsReported() throws IOException {
        JsonNode d = Cli.readJson(out.resolve("compression_metadata.json")).get("distillation");
        assertEquals("logits+attention", d.get("mode").asText(), d.toString());
        assertEquals("0,-1", d.get("layers").asText());
        assertTrue(
                d.get("teacher_forward_s").asDouble() > 0
                        && d.get("student_forward_s").asDouble() > 0,
                d.toString());
        assertTrue(Files.readString(out.resolve("report.html")).contains("<h2>Distillation</h2>"));
        JsonNode meta = Cli.readJson(out.resolve("compression_metadata.json"));
        JsonNode curve = meta.get("fine_tune_eval_curve");
        assertEquals(1, curve.size(), "one evaluation at the last of the 2 steps: " + curve);
        // the curve is measured on the headline's windows: its last point is the fine-tuned model before int8/FP16
        // rounding
        double last = curve.get(0).get(1).asDouble(),
                fin = results.get("metrics").get("ppl_final").asDouble();
        assertEquals(fin, last, 0.02 * fin, "curve " + last + " vs final " + fin);
    }

    @Test
    void resultsObjectHasTheContractKeys() {
        assertTrue(results.get("success").isBoolean());
        assertTrue(results.has("error"));
        JsonNode m = results.get("metrics");
        for (String k : List.of(
                "compression_ratio",
                "sparsity_ratio",
                "ppl_original",
                "ppl_quantized",
                "ppl_final",
                "layers_quantized",
                "layers_preserved")) {
            assertTrue(m.has(k) && m.get(k).isNumber(), "metrics." + k + " in " + m);
        }
        assertTrue(results.get("gradient_flow").get("passed").isBoolean());
        assertTrue(results.get("output_paths").isObject());
        assertTrue(results.get("timings_s").isObject());
        assertTrue(m.get("layers_quantized").asInt() > 0);
        double sp = m.get("sparsity_ratio").asDouble();
        assertTrue(sp > 0 && sp < 1, "sparsity " + sp);
        // the reference perplexity of the original model is the one ppl measures on the same windows
        JsonNode p = Cli.run(
                        "ppl",
                        "--model",
                        Cli.demoModel().toString(),
                        "--text",
                        eval.toString(),
                        "--seq-len",
                        "256",
                        "--windows",
                        "2")
                .ok()
                .json();
        assertEquals(1, p.get("ppl").asDouble() / m.get("ppl_original").asDouble(), 1e-3, "ppl_original");
    }

    @Test
    void compressionRatioIsFp32BytesOverThePackedFile() throws IOException {
        long params = Cli.run("inspect", "--model", Cli.demoModel().toString(), "--json")
                .ok()
                .json()
                .get("parameters")
                .asLong();
        long packed = Files.size(out.resolve("bitnet_quantized_model.safetensors"));
        assertEquals(
                4.0 * params / packed,
                results.get("metrics").get("compression_ratio").asDouble(),
                1e-9 * params / packed);
    }

    @Test
    void pplOfTheOutputsMatchesTheReportedFigures() {
        JsonNode m = results.get("metrics");
        JsonNode fp16 = Cli.run(
                        "ppl",
                        "--model",
                        out.resolve("bitnet_dequantized_fp16").toString(),
                        "--text",
                        eval.toString(),
                        "--seq-len",
                        "256",
                        "--windows",
                        "2",
                        "--json")
                .ok()
                .json();
        assertEquals(
                1,
                fp16.get("ppl").asDouble() / m.get("ppl_final").asDouble(),
                1e-3,
                "ppl on bitnet_dequantized_fp16 vs ppl_final");
        JsonNode packed = Cli.run(
                        "ppl",
                        "--model",
                        out.toString(),
                        "--text",
                        eval.toString(),
                        "--seq-len",
                        "256",
                        "--windows",
                        "2",
                        "--json")
                .ok()
                .json();
        assertEquals(
                1,
                packed.get("ppl").asDouble() / m.get("ppl_packed").asDouble(),
                1e-3,
                "ppl on the packed output vs ppl_packed");
        assertEquals(2, packed.get("windows").asInt());
        assertEquals(512, packed.get("tokens").asLong());
    }

    @Test
    void theOutputDirectoryRunsGenerate() {
        JsonNode g = Cli.run(
                        "generate",
                        "--model",
                        out.toString(),
                        "--prompt",
                        "The ",
                        "--max-new",
                        "5",
                        "--greedy",
                        "--ignore-eos",
                        "--json")
                .ok()
                .json();
        assertTrue(g.get("ids").size() > 5);
        assertTrue(g.get("text").asText().startsWith("The "), g.toString());
    }

    // ---- bad input: nothing is written, nothing is touched ----

    String[] args(Path model, Path output, String... more) {
        String[] base = {
            "compress",
            "--model",
            model.toString(),
            "--output",
            output.toString(),
            "--fine-tune-steps",
            "1",
            "--eval-windows",
            "1",
            "--calibration-data",
            calib.toString(),
            "--eval-data",
            eval.toString()
        };
        return CliErrorsTest.concat(base, more);
    }

    @Test
    void missingModelDirectoryCreatesNoOutput() {
        Path o = tmp.resolve("bad1");
        Cli.run(args(tmp.resolve("no-model"), o)).badInput("no-model");
        assertFalse(Files.exists(o), "output directory created for a missing model");
    }

    @Test
    void existingOutputIsLeftAloneWithoutOverwrite() throws IOException {
        Path o = tmp.resolve("bad2");
        Files.createDirectories(o);
        Files.writeString(o.resolve("keep.txt"), "precious");
        Cli.Result r = Cli.run(args(Cli.demoModel(), o));
        r.badInput("bad2");
        try (var s = Files.list(o)) {
            assertEquals(List.of(o.resolve("keep.txt")), s.toList());
        }
        assertEquals("precious", Files.readString(o.resolve("keep.txt")));
    }

    @Test
    void unknownQuantizerIsAUsageErrorAndWritesNothing() {
        Path o = tmp.resolve("bad3");
        Cli.run(args(Cli.demoModel(), o, "--quantizer", "octal")).usage();
        assertFalse(Files.exists(o));
    }

    @Test
    void emptyCalibrationFileIsBadInputAndWritesNothing() throws IOException {
        Path o = tmp.resolve("bad4");
        Path empty = tmp.resolve("empty.txt");
        Files.writeString(empty, "");
        String[] a = args(Cli.demoModel(), o);
        a[java.util.Arrays.asList(a).indexOf(calib.toString())] = empty.toString();
        Cli.run(a).badInput("empty.txt");
        assertFalse(Files.exists(o));
    }

    @Test
    void jsonOnFailureIsStillOneObject() {
        Path o = tmp.resolve("bad5");
        Cli.Result r = Cli.run(CliErrorsTest.concat(args(tmp.resolve("no-model"), o), "--json"));
        assertEquals(3, r.code());
        JsonNode j = r.json();
        assertFalse(j.get("success").asBoolean());
        assertTrue(j.get("error").asText().contains("no-model"));
        assertArrayEquals(new boolean[] {false}, new boolean[] {Files.exists(o)});
    }
}
