package bitnet.engine.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import bitnet.io.Checks.Range;
import bitnet.io.SafetensorsFile;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;
import picocli.CommandLine.Model.OptionSpec;

/**
 * Property test of the numeric command-line options: every numeric option of every subcommand
 * has a rule in {@link OptionRules}, and generated values breaking it (NaN, ±Inf, below the
 * minimum, above the maximum, fractional for integers, not a number, wrong count for lists) give
 * exit 2 with a message naming the flag, before any work. Extreme values the rules accept must
 * not give a non-finite number with exit 0.
 */
class OptionPropertyTest {
    @TempDir
    Path tmp;

    Path text;

    @BeforeEach
    void setUp() throws IOException {
        text = tmp.resolve("t.txt");
        Files.writeString(text, "Once upon a time there was a little girl. ".repeat(200));
    }

    /** Values that break r, as the command line would give them. */
    static List<String> badValues(Range r) {
        List<String> v = new ArrayList<>(List.of("NaN", "Infinity", "-Infinity", "abc"));
        if (r.min() > Long.MIN_VALUE) {
            v.add(r.minInclusive() ? fmt(r.min() - 1, r.integer()) : fmt(r.min(), r.integer()));
        }
        if (r.integer()) {
            v.add("0.5");
            if (r.max() < Integer.MAX_VALUE) {
                v.add(fmt(r.max() + 1, true));
            }
            v.add("99999999999999999999");
        } else if (r.max() < Double.MAX_VALUE) {
            v.add(r.maxInclusive() ? fmt(r.max() + 0.5, false) : fmt(r.max(), false));
        } else {
            v.add("1e999");
        }
        return v;
    }

    private static String fmt(double d, boolean integer) {
        return integer ? Long.toString((long) d) : Double.toString(d);
    }

    /** Minimal valid arguments of each command with numeric options (the option under test is appended). */
    private Map<String, List<String>> base() {
        String m = Cli.hfTiny("llama").toString();
        String o = tmp.resolve("o.safetensors").toString();
        return Map.of(
                "logits", List.of("--model", m, "--ids", "1,2,3", "--out", o),
                "grads", List.of("--model", m, "--ids", "1,2,3", "--out", o),
                "train-steps", List.of("--model", m, "--ids", "1,2,3", "--out", o, "--steps", "1"),
                "ppl", List.of("--model", Cli.demoModel().toString(), "--text", text.toString()),
                "generate", List.of("--model", m, "--ids", "1,2", "--max-new", "1"),
                "finetune",
                        List.of(
                                "--model",
                                m,
                                "--data",
                                text.toString(),
                                "--output",
                                tmp.resolve("ft").toString(),
                                "--steps",
                                "1"),
                "compress", List.of("--model", m, "--output", tmp.resolve("c").toString()),
                "gradient-flow", List.of("--model", m),
                "speed", List.of("--model", m));
    }

    @Test
    void everyNumericOptionHasARuleAndRefusesBadValues() {
        CommandLine root = Main.commandLine();
        Map<String, List<String>> base = base();
        int cases = 0;
        for (var sub : root.getSubcommands().entrySet()) {
            String cmd = sub.getKey();
            for (OptionSpec o : sub.getValue().getCommandSpec().options()) {
                if (!OptionRules.isNumeric(o)) {
                    continue;
                }
                String flag = o.longestName();
                Range r = OptionRules.rule(cmd, flag);
                assertNotNull(r, () -> cmd + " " + flag + " has no rule in OptionRules");
                assertNotNull(base.get(cmd), () -> "no base arguments for " + cmd);
                List<String> values = new ArrayList<>(badValues(r));
                if (OptionRules.COUNTS.containsKey(flag)) {
                    values.addAll(List.of("0.9", "0.9,0.95,0.99", "NaN,0.9", "1.5,2"));
                }
                for (String bad : values) {
                    List<String> args = new ArrayList<>();
                    args.add(cmd);
                    args.addAll(base.get(cmd));
                    int i = args.indexOf(flag);
                    if (i > 0) {
                        args.set(i + 1, bad);
                    } else {
                        args.add(flag);
                        args.add(bad);
                    }
                    Cli.Result res = Cli.run(args.toArray(String[]::new));
                    String ctx = cmd + " " + flag + " " + bad;
                    assertEquals(2, res.code(), () -> ctx + ": exit\n" + res.err());
                    res.assertNoTrace();
                    assertTrue(res.err().contains(flag), () -> ctx + ": message does not name the flag:\n" + res.err());
                    cases++;
                }
            }
        }
        assertTrue(cases > 150, "cases " + cases);
    }

    @Test
    void theIssuesExamples() {
        String m = Cli.hfTiny("llama").toString();
        String o = tmp.resolve("x.safetensors").toString();
        for (String[] extra : new String[][] {{"--lr", "NaN"}, {"--betas", "1.5,2"}, {"--eps", "0"}}) {
            List<String> a =
                    new ArrayList<>(List.of("train-steps", "--model", m, "--ids", "1,2,3", "--steps", "2", "--out", o));
            a.addAll(Arrays.asList(extra));
            Cli.run(a.toArray(String[]::new)).usage();
        }
        Cli.Result r = Cli.run("speed", "--model", m, "--steps", "-1", "--json");
        r.usage();
        assertTrue(r.json().get("error").asText().contains("--steps"), r.out());
    }

    /** Accepted but extreme settings: either finite results with exit 0 or a refusal, never NaN with exit 0. */
    @Test
    void extremeAcceptedValuesNeverGiveNonFiniteWithExitZero() throws IOException {
        String m = Cli.hfTiny("llama").toString();
        for (String[] extra : new String[][] {
            {"--lr", "1e30"}, {"--lr", "3e38", "--eps", "1e-45"}, {"--betas", "0,0"}, {"--weight-decay", "1e30"}
        }) {
            Path o = tmp.resolve("e" + System.nanoTime() + ".safetensors");
            List<String> a = new ArrayList<>(List.of(
                    "train-steps", "--model", m, "--ids", "1,2,3;4,5,6", "--steps", "3", "--out", o.toString()));
            a.addAll(Arrays.asList(extra));
            Cli.Result r = Cli.run(a.toArray(String[]::new));
            String ctx = String.join(" ", extra);
            if (r.code() == 0) {
                try (Arena arena = Arena.ofConfined()) {
                    SafetensorsFile f = SafetensorsFile.open(o, arena);
                    for (var t : f.tensors().values()) {
                        float[] v = t.toFloatArray();
                        for (float x : v) {
                            assertTrue(
                                    Float.isFinite(x),
                                    () -> ctx + ": " + t.name() + " holds a non-finite value with exit 0");
                        }
                    }
                }
            } else {
                assertEquals(1, r.code(), () -> ctx + ": " + r.err());
                r.assertNoTrace();
                assertTrue(r.err().contains("diverged"), r.err());
            }
        }
    }
}
