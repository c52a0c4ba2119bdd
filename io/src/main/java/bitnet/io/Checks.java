package bitnet.io;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Locale;

/**
 * The one validation layer for numbers entering the engine: a {@link Range} rule (integer or
 * not, bounds, always finite) and the checks built on it, shared by config.json
 * ({@link ModelConfigRules}), the compress config and the CLI's numeric options. A value from a
 * file that breaks its rule is a {@link BadInputException} naming the file and the key (exit 3);
 * callers checking a flag turn {@link #problem} into a usage error naming the flag (exit 2).
 *
 * <p>Also the strict JSON reader every config file goes through: trailing content after the
 * object, duplicate keys and non-numeric numbers (NaN, Infinity) are refused, so a file never
 * means something other than what it says.
 */
public final class Checks {
    private Checks() {}

    /**
     * What a number may be: integer or not, within [min, max] (each bound inclusive or not); never
     * NaN or infinite. Write new rules with the factories below so messages read alike.
     */
    public record Range(boolean integer, double min, boolean minInclusive, double max, boolean maxInclusive) {
        /** An integer >= 1. */
        public static final Range POSITIVE_INT = new Range(true, 1, true, Integer.MAX_VALUE, true);
        /** An integer >= 0. */
        public static final Range NON_NEGATIVE_INT = new Range(true, 0, true, Integer.MAX_VALUE, true);
        /** Any 64-bit integer (seeds). */
        public static final Range ANY_LONG = new Range(true, Long.MIN_VALUE, true, Long.MAX_VALUE, true);
        /** A finite number > 0. */
        public static final Range POSITIVE = new Range(false, 0, false, Double.MAX_VALUE, true);
        /** Any finite number. */
        public static final Range ANY_FINITE = new Range(false, -Double.MAX_VALUE, true, Double.MAX_VALUE, true);
        /** A finite number >= 0. */
        public static final Range NON_NEGATIVE = new Range(false, 0, true, Double.MAX_VALUE, true);
        /** A number in [0, 1]. */
        public static final Range UNIT = new Range(false, 0, true, 1, true);
        /** A number in [0, 1) (Adam's betas, EMA factors). */
        public static final Range UNIT_OPEN_TOP = new Range(false, 0, true, 1, false);
        /** A number in (0, 1] (nucleus mass). */
        public static final Range UNIT_OPEN_BOTTOM = new Range(false, 0, false, 1, true);
        /** A number in (0, 1) (normalization epsilons). */
        public static final Range OPEN_UNIT = new Range(false, 0, false, 1, false);

        public static Range intAtLeast(long min) {
            return new Range(true, min, true, Integer.MAX_VALUE, true);
        }

        public static Range intBetween(long min, long max) {
            return new Range(true, min, true, max, true);
        }

        public static Range atLeast(double min) {
            return new Range(false, min, true, Double.MAX_VALUE, true);
        }

        /** Null when v obeys the rule, else what is wrong ("must be > 0, got NaN"). */
        public String problem(double v) {
            boolean ok = Double.isFinite(v)
                    && (minInclusive ? v >= min : v > min)
                    && (maxInclusive ? v <= max : v < max)
                    && (!integer || v == Math.rint(v));
            return ok ? null : "must be " + describe() + ", got " + fmt(v);
        }

        /** The rule in words: "an integer >= 1", "a number in (0, 1)". */
        public String describe() {
            String what = integer ? "an integer" : "a finite number";
            boolean noMax = max >= (integer ? Long.MAX_VALUE : Double.MAX_VALUE);
            boolean noMin = integer ? min <= Long.MIN_VALUE : min <= -Double.MAX_VALUE;
            if (noMax && noMin) {
                return what;
            }
            if (noMax) {
                return what + (minInclusive ? " >= " : " > ") + fmt(min);
            }
            return what + " in " + (minInclusive ? "[" : "(") + fmt(min) + ", " + fmt(max) + (maxInclusive ? "]" : ")");
        }
    }

    static String fmt(double v) {
        if (v == Math.rint(v) && Math.abs(v) < 1e15) {
            return Long.toString((long) v);
        }
        return String.format(Locale.ROOT, "%s", v);
    }

    /** Throws IllegalArgumentException "NAME must be ..., got X" when v breaks r (for flags: exit 2). */
    public static double check(String name, double v, Range r) {
        String p = r.problem(v);
        if (p != null) {
            throw new IllegalArgumentException(name + " " + p);
        }
        return v;
    }

    // ---- JSON ------------------------------------------------------------------------------

    private static final ObjectMapper STRICT = new ObjectMapper()
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);

    /** Reads a JSON file strictly (see the class comment); missing or malformed is bad input naming it. */
    public static JsonNode readJson(Path file) {
        try {
            return STRICT.readTree(Files.readString(file));
        } catch (NoSuchFileException e) {
            throw new BadInputException(file, "file not found", e);
        } catch (IOException e) {
            String m = e.getMessage() == null
                    ? e.toString()
                    : e.getMessage().lines().findFirst().orElse("");
            throw new BadInputException(file, "not valid JSON: " + m, e);
        }
    }

    /**
     * The number under key as a double, checked against r: a string ("1e-5", "tiny"), a boolean,
     * NaN/Inf (a huge literal such as 1e999 parses to Infinity) or a value out of range is bad
     * input naming file and key. Returns def when the key is absent or null.
     */
    public static double number(Path file, JsonNode n, String key, double def, Range r) {
        JsonNode v = n.get(key);
        if (v == null || v.isNull()) {
            return def;
        }
        return number(file, key, v, r);
    }

    /** As {@link #number(Path, JsonNode, String, double, Range)} for a value already taken out. */
    public static double number(Path file, String key, JsonNode v, Range r) {
        if (!v.isNumber()) {
            throw new BadInputException(file, "'" + key + "' must be " + r.describe() + ", got " + shortJson(v));
        }
        if (r.integer() && !v.isIntegralNumber() && v.asDouble() != Math.rint(v.asDouble())) {
            throw new BadInputException(file, "'" + key + "' must be " + r.describe() + ", got " + shortJson(v));
        }
        if (r.integer() && v.isIntegralNumber() && !v.canConvertToLong()) {
            throw new BadInputException(file, "'" + key + "' must be " + r.describe() + ", got " + shortJson(v));
        }
        double d = v.asDouble();
        String p = r.problem(d);
        if (p != null) {
            throw new BadInputException(file, "'" + key + "' " + p);
        }
        return d;
    }

    /** A boolean under key (true/false only: "yes", 1 and "true" are refused), def when absent. */
    public static boolean bool(Path file, JsonNode n, String key, boolean def) {
        JsonNode v = n.get(key);
        if (v == null || v.isNull()) {
            return def;
        }
        if (!v.isBoolean()) {
            throw new BadInputException(file, "'" + key + "' must be true or false, got " + shortJson(v));
        }
        return v.booleanValue();
    }

    /** A string under key (a number or object is refused), def when absent. */
    public static String text(Path file, JsonNode n, String key, String def) {
        JsonNode v = n.get(key);
        if (v == null || v.isNull()) {
            return def;
        }
        if (!v.isTextual()) {
            throw new BadInputException(file, "'" + key + "' must be a string, got " + shortJson(v));
        }
        return v.textValue();
    }

    /** The JSON of v, cut to 60 characters for messages. */
    public static String shortJson(JsonNode v) {
        String s = v.toString();
        return s.length() > 60 ? s.substring(0, 57) + "..." : s;
    }
}
