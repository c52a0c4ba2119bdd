package bitnet.engine.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import bitnet.engine.compress.CompressConfig;
import bitnet.io.Checks.Range;
import java.io.IOException;
import java.lang.reflect.Field;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Property test of the compress config: every key of {@link CompressConfig} gets generated bad
 * values in a --config file (exit 3 naming the file and the key), every numeric compress flag
 * gets them on the command line (exit 2 naming the flag); all are refused before any work, so
 * no output, .partial or .lock is left. Includes the issue's gates that turned off
 * (--max-accuracy-drop NaN, --target-ratio NaN or negative).
 */
class CompressConfigPropertyTest {
    @TempDir
    Path tmp;

    static List<String> badJson(Class<?> t, Range r) {
        List<String> v = new ArrayList<>(List.of("{\"x\": 1}", "[1, 2]"));
        if (t == String.class) {
            v.add("3");
            v.add("true");
            return v;
        }
        if (t == boolean.class) {
            v.addAll(List.of("\"yes\"", "\"true\"", "1"));
            return v;
        }
        if (t == List.class) {
            v.addAll(List.of("\"embed\"", "[1, 2]"));
            v.remove("[1, 2]");
            v.add("[\"a\", 3]");
            return v;
        }
        v.addAll(List.of("\"NaN\"", "\"0.1\"", "true", "1e999", "-1e999", "-1"));
        if (r.min() > 0 || !r.minInclusive()) {
            v.add("0");
        }
        if (r.min() <= -1) { // negative values are valid for this key
            v.remove("-1");
        }
        if (r.integer()) {
            v.add("0.5");
            v.add("1e30");
        } else if (r.max() < Double.MAX_VALUE) {
            v.add(Double.toString(r.max() + 1));
        }
        if (r.integer() && r.min() <= Long.MIN_VALUE) { // any integer: only the type and the size can be wrong
            v.removeAll(List.of("-1", "0"));
            v.add("1e300");
        }
        return v;
    }

    private void assertNothingWritten(Path out, String ctx) {
        for (String s : new String[] {"", ".partial", ".lock"}) {
            assertFalse(Files.exists(Path.of(out + s)), ctx + ": left " + out + s);
        }
    }

    @Test
    void everyNumericFieldHasARange() {
        for (Field f : CompressConfig.class.getFields()) {
            Class<?> t = f.getType();
            if (!java.lang.reflect.Modifier.isTransient(f.getModifiers())
                    && !java.lang.reflect.Modifier.isStatic(f.getModifiers())
                    && (t == int.class || t == long.class || t == double.class)) {
                assertNotNull(CompressConfig.RANGES.get(f.getName()), "no range for compress key " + f.getName());
            }
        }
    }

    @Test
    void everyKeyRefusesBadValuesFromTheFile() throws Exception {
        Path model = Cli.hfTiny("llama");
        int cases = 0;
        for (String key : CompressConfig.keys()) {
            if (key.equals("model_path") || key.equals("output_path")) {
                continue; // paths: their own checks (DataLossTest, CliErrorsTest)
            }
            Field f = CompressConfig.class.getField(key);
            boolean first = true;
            for (String bad : badJson(f.getType(), CompressConfig.RANGES.get(key))) {
                Path cfg = tmp.resolve("c" + (cases++) + ".json");
                Files.writeString(cfg, "{\"" + key + "\": " + bad + "}");
                if (!first) { // the bulk: the config reader itself; each key's first value goes through the CLI
                    var e = org.junit.jupiter.api.Assertions.assertThrows(
                            bitnet.io.BadInputException.class,
                            () -> new CompressConfig().loadFile(cfg),
                            key + " = " + bad);
                    assertTrue(
                            e.getMessage().contains(cfg.getFileName().toString())
                                    && e.getMessage().contains(key),
                            e.getMessage());
                    continue;
                }
                first = false;
                Path out = tmp.resolve("out");
                Cli.Result r = Cli.run(
                        "compress",
                        "--model",
                        model.toString(),
                        "--output",
                        out.toString(),
                        "--config",
                        cfg.toString());
                String ctx = key + " = " + bad;
                assertEquals(3, r.code(), () -> ctx + ": exit code\n" + r.err());
                String line = r.errorLine();
                assertTrue(
                        line.contains(cfg.getFileName().toString()) && line.contains(key),
                        () -> ctx + ": does not name file and key: " + line);
                assertNothingWritten(out, ctx);
            }
        }
        assertTrue(cases > 150, "cases " + cases);
    }

    @Test
    void choicesAndCrossKeyRulesComeFromTheFileToo() throws IOException {
        for (String json : List.of(
                "{\"quantizer\": \"tern\"}",
                "{\"packing\": \"3bit\"}",
                "{\"embedding_precision\": \"int2\"}",
                "{\"grokfast\": \"ema:1.5:2\"}",
                "{\"streaming\": \"yes\"}",
                "{\"device\": \"tpu\"}",
                "{\"streaming\": \"on\"}",
                "{\"fine_tune_lr\": 1e-4} trailing",
                "{\"seed\": 1, \"seed\": 2}")) {
            Path cfg = tmp.resolve("x.json");
            Files.writeString(cfg, json);
            Path out = tmp.resolve("out");
            Cli.Result r = Cli.run(
                    "compress",
                    "--model",
                    Cli.hfTiny("llama").toString(),
                    "--output",
                    out.toString(),
                    "--config",
                    cfg.toString());
            r.badInput("x.json");
            assertNothingWritten(out, json);
        }
    }

    @Test
    void numericFlagsRefuseBadValues() {
        String[] flags = {
            "--fine-tune-steps",
            "--fine-tune-lr",
            "--target-ratio",
            "--max-accuracy-drop",
            "--sparsity-threshold",
            "--eval-windows",
            "--seed",
            "--threads"
        };
        for (String flag : flags) {
            Range r = OptionRules.rule("compress", flag);
            assertNotNull(r, flag);
            for (String bad : OptionPropertyTest.badValues(r)) {
                Path out = tmp.resolve("out");
                Cli.Result res = Cli.run(
                        "compress", "--model", Cli.hfTiny("llama").toString(), "--output", out.toString(), flag, bad);
                assertEquals(2, res.code(), () -> flag + " " + bad + ": exit\n" + res.err());
                res.assertNoTrace();
                assertTrue(
                        res.err().contains(flag),
                        () -> flag + " " + bad + ": message does not name the flag:\n" + res.err());
                assertNothingWritten(out, flag + " " + bad);
            }
        }
    }

    @Test
    void theIssuesGatesNoLongerTurnOff() {
        for (String[] a : new String[][] {
            {"--max-accuracy-drop", "NaN"},
            {"--target-ratio", "NaN"},
            {"--target-ratio", "-2"},
            {"--max-accuracy-drop", "-0.1"},
            {"--target-ratio", "Infinity"}
        }) {
            Cli.Result r = Cli.run(
                    "compress",
                    "--model",
                    Cli.hfTiny("llama").toString(),
                    "--output",
                    tmp.resolve("g").toString(),
                    a[0],
                    a[1],
                    "--json");
            r.usage();
            assertEquals(false, r.json().get("success").asBoolean());
            assertTrue(r.json().get("error").asText().contains(a[0]), r.out());
        }
    }
}
