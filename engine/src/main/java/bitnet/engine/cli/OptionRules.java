package bitnet.engine.cli;

import bitnet.io.Checks.Range;
import java.lang.reflect.Array;
import java.util.Map;
import picocli.CommandLine;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.ParseResult;

/**
 * The ranges of every numeric command-line option, checked for the subcommand about to run
 * (values given and defaults alike) before it starts: a NaN, an infinity or a value out of range
 * is a usage error naming the flag (exit 2). A rule is looked up as "command --flag" first, then
 * "--flag". {@code OptionPropertyTest} fails when a numeric option has no rule here, and feeds
 * every rule NaN, ±Inf, 0, negative and huge values.
 */
final class OptionRules {
    private OptionRules() {}

    /** Largest batch and sequence length accepted: B·T·V must stay a sane allocation. */
    static final int MAX_BATCH = 1 << 16;

    static final int MAX_SEQ = 1 << 20;

    static final Map<String, Range> RULES = Map.ofEntries(
            Map.entry("--threads", Range.NON_NEGATIVE_INT),
            Map.entry("--steps", Range.POSITIVE_INT),
            Map.entry("--batch-size", Range.intBetween(1, MAX_BATCH)),
            Map.entry("--batch", Range.intBetween(1, MAX_BATCH)),
            Map.entry("--seq-len", Range.intBetween(1, MAX_SEQ)),
            Map.entry("--grad-accum", Range.intBetween(1, MAX_BATCH)),
            Map.entry("--lr", Range.POSITIVE),
            Map.entry("--min-lr-ratio", Range.UNIT),
            Map.entry("--warmup", Range.NON_NEGATIVE_INT),
            Map.entry("--weight-decay", Range.NON_NEGATIVE),
            Map.entry("--betas", Range.UNIT_OPEN_TOP),
            Map.entry("--eps", Range.POSITIVE),
            Map.entry("--max-grad-norm", Range.NON_NEGATIVE),
            Map.entry("--eval-every", Range.POSITIVE_INT),
            Map.entry("--eval-windows", Range.POSITIVE_INT),
            Map.entry("--patience", Range.POSITIVE_INT),
            Map.entry("--checkpoint-every", Range.POSITIVE_INT),
            Map.entry("--seed", Range.ANY_LONG),
            Map.entry("--windows", Range.POSITIVE_INT),
            Map.entry("--max-new", Range.NON_NEGATIVE_INT),
            Map.entry("--temperature", Range.POSITIVE),
            Map.entry("--top-p", Range.UNIT_OPEN_BOTTOM),
            Map.entry("--gen-tokens", Range.POSITIVE_INT),
            Map.entry("--fine-tune-steps", Range.NON_NEGATIVE_INT),
            Map.entry("--fine-tune-lr", Range.POSITIVE),
            Map.entry("--target-ratio", Range.POSITIVE),
            Map.entry("--max-accuracy-drop", Range.NON_NEGATIVE),
            Map.entry("--distill-temperature", Range.POSITIVE),
            Map.entry("--distill-alpha", Range.UNIT),
            Map.entry("--distill-attention-weight", Range.NON_NEGATIVE),
            Map.entry("--sparsity-threshold", Range.NON_NEGATIVE));

    /** Options whose values must have a fixed count (split lists). */
    static final Map<String, Integer> COUNTS = Map.of("--betas", 2);

    /** The rule for an option of a command, or null when it has none. */
    static Range rule(String command, String flag) {
        Range r = RULES.get(command + " " + flag);
        return r != null ? r : RULES.get(flag);
    }

    static boolean isNumeric(OptionSpec o) {
        Class<?> t = o.type().isArray() ? o.type().getComponentType() : o.type();
        return t == int.class
                || t == Integer.class
                || t == long.class
                || t == Long.class
                || t == float.class
                || t == Float.class
                || t == double.class
                || t == Double.class;
    }

    /** Checks the numeric options of the subcommand that will run; ParameterException (exit 2) naming the flag. */
    static void check(ParseResult pr) {
        ParseResult leaf = pr;
        while (true) {
            if (leaf.isUsageHelpRequested() || leaf.isVersionHelpRequested()) {
                return; // --help runs nothing: a required option's unset value is no error
            }
            if (!leaf.hasSubcommand()) {
                break;
            }
            leaf = leaf.subcommand();
        }
        CommandLine cmd = leaf.commandSpec().commandLine();
        String name = leaf.commandSpec().name();
        for (OptionSpec o : leaf.commandSpec().options()) {
            if (!isNumeric(o)) {
                continue;
            }
            Object v = o.getValue();
            if (v == null) {
                continue;
            }
            String flag = o.longestName();
            Range r = rule(name, flag);
            if (v.getClass().isArray()) {
                int n = Array.getLength(v);
                Integer want = COUNTS.get(flag);
                if (want != null && n != want) {
                    throw new CommandLine.ParameterException(
                            cmd, flag + " takes " + want + " comma-separated numbers, got " + n);
                }
                for (int i = 0; i < n; i++) {
                    checkOne(cmd, flag, ((Number) Array.get(v, i)).doubleValue(), r);
                }
            } else {
                checkOne(cmd, flag, ((Number) v).doubleValue(), r);
            }
        }
    }

    private static void checkOne(CommandLine cmd, String flag, double v, Range r) {
        String p = r != null ? r.problem(v) : Double.isFinite(v) ? null : "must be a finite number, got " + v;
        if (p != null) {
            throw new CommandLine.ParameterException(cmd, flag + " " + p);
        }
    }
}
