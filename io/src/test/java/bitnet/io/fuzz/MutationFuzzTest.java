package bitnet.io.fuzz;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.function.Consumer;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A seeded random-mutation fuzzer that runs in every build: for each target, ~1.5 s of mutants of
 * its seed corpus (bit flips, interesting bytes, ASCII numbers replaced by huge or negative ones,
 * cut/duplicated/spliced ranges, truncation). Not coverage-guided (that is Jazzer's fuzzing mode),
 * but it explores beyond the fixed corpus Jazzer replays in regression mode, reproducibly:
 * a failure prints the seed and the mutant in hex, to be added to the corpus directory.
 */
class MutationFuzzTest {
    static final long BUDGET_NS = Long.getLong("bitnet.fuzz.ms", 1500) * 1_000_000L;

    static Consumer<byte[]> target(String name) {
        return switch (name) {
            case "safetensors" -> FuzzTargets::safetensors;
            case "torchBin" -> FuzzTargets::torchBin;
            case "packed" -> FuzzTargets::packed;
            case "config" -> FuzzTargets::config;
            case "shardIndex" -> FuzzTargets::shardIndex;
            case "tokenizer" -> FuzzTargets::tokenizer;
            case "encode" -> FuzzTargets::encode;
            case "gguf" -> FuzzTargets::gguf;
            default -> throw new IllegalArgumentException(name);
        };
    }

    @ParameterizedTest
    @ValueSource(strings = {"safetensors", "torchBin", "packed", "config", "shardIndex", "tokenizer", "encode", "gguf"})
    void onlyBadInputEscapes(String name) {
        Consumer<byte[]> t = target(name);
        List<byte[]> seeds = Seeds.of(name);
        for (byte[] s : seeds) {
            t.accept(s); // the corpus itself must pass
        }
        Random r = new Random(name.hashCode() * 31L + 7);
        long end = System.nanoTime() + BUDGET_NS;
        int execs = 0;
        while (System.nanoTime() < end) {
            byte[] seed = seeds.get(r.nextInt(seeds.size()));
            byte[] m = seed;
            int rounds = 1 + r.nextInt(4);
            for (int i = 0; i < rounds; i++) {
                m = mutate(m, seeds.get(r.nextInt(seeds.size())), r);
            }
            try {
                t.accept(m);
            } catch (Throwable e) {
                throw new AssertionError(
                        name + ": mutant of " + seed.length + "-byte seed fails with " + e + "\nmutant (hex): "
                                + HexFormat.of().formatHex(m),
                        e);
            }
            execs++;
        }
        System.out.printf("mutation fuzz %-12s %6d execs from %d seeds%n", name, execs, seeds.size());
        assertTrue(execs > 0);
    }

    private static final long[] INTERESTING = {
        0, 1, -1, 255, 65535, 0x7fffffffL, 0xffffffffL, 1L << 32, 1L << 40, Long.MAX_VALUE, Long.MIN_VALUE
    };
    private static final String[] NUMBERS = {
        "-1",
        "0",
        "4294967296",
        "99999999999999999999",
        "1e308",
        "-0",
        "1.5",
        "9223372036854775807",
        "2147483648",
        "1099511627776",
        "65536"
    };

    static byte[] mutate(byte[] in, byte[] other, Random r) {
        byte[] b = in.clone();
        int n = b.length;
        switch (r.nextInt(9)) {
            case 0 -> { // flip bits
                for (int k = 0, c = 1 + r.nextInt(4); k < c && n > 0; k++) {
                    b[r.nextInt(n)] ^= (byte) (1 << r.nextInt(8));
                }
            }
            case 1 -> { // an interesting little-endian integer of 1, 2, 4 or 8 bytes
                if (n == 0) {
                    return b;
                }
                long v = INTERESTING[r.nextInt(INTERESTING.length)];
                int w = 1 << r.nextInt(4);
                int at = r.nextInt(n);
                for (int k = 0; k < w && at + k < n; k++) {
                    b[at + k] = (byte) (v >>> (8 * k));
                }
            }
            case 2 -> { // replace an ASCII number
                return replaceNumber(b, r);
            }
            case 3 -> { // truncate
                return java.util.Arrays.copyOf(b, n == 0 ? 0 : r.nextInt(n));
            }
            case 4 -> { // delete a range
                if (n < 2) {
                    return b;
                }
                int a = r.nextInt(n), len = 1 + r.nextInt(Math.min(64, n - a));
                byte[] o = new byte[n - len];
                System.arraycopy(b, 0, o, 0, a);
                System.arraycopy(b, a + len, o, a, n - a - len);
                return o;
            }
            case 5 -> { // duplicate a range in place
                if (n == 0) {
                    return b;
                }
                int a = r.nextInt(n), len = 1 + r.nextInt(Math.min(256, n - a));
                byte[] o = new byte[n + len];
                System.arraycopy(b, 0, o, 0, a + len);
                System.arraycopy(b, a, o, a + len, n - a);
                return o;
            }
            case 6 -> { // splice a range of another seed
                if (n == 0 || other.length == 0) {
                    return b;
                }
                int a = r.nextInt(other.length), len = 1 + r.nextInt(Math.min(128, other.length - a));
                int at = r.nextInt(n);
                for (int k = 0; k < len && at + k < n; k++) {
                    b[at + k] = other[a + k];
                }
            }
            case 7 -> { // structural JSON characters
                if (n == 0) {
                    return b;
                }
                byte[] chars = "{}[]\",:\\ntf0".getBytes(StandardCharsets.US_ASCII);
                b[r.nextInt(n)] = chars[r.nextInt(chars.length)];
            }
            default -> { // random byte
                if (n > 0) {
                    b[r.nextInt(n)] = (byte) r.nextInt(256);
                }
            }
        }
        return b;
    }

    private static byte[] replaceNumber(byte[] b, Random r) {
        List<int[]> runs = new ArrayList<>();
        for (int i = 0; i < b.length; ) {
            if (b[i] >= '0' && b[i] <= '9') {
                int j = i;
                while (j < b.length && b[j] >= '0' && b[j] <= '9') {
                    j++;
                }
                runs.add(new int[] {i, j});
                i = j;
            } else {
                i++;
            }
        }
        if (runs.isEmpty()) {
            return b;
        }
        int[] run = runs.get(r.nextInt(runs.size()));
        byte[] num = NUMBERS[r.nextInt(NUMBERS.length)].getBytes(StandardCharsets.US_ASCII);
        byte[] o = new byte[b.length - (run[1] - run[0]) + num.length];
        System.arraycopy(b, 0, o, 0, run[0]);
        System.arraycopy(num, 0, o, run[0], num.length);
        System.arraycopy(b, run[1], o, run[0] + num.length, b.length - run[1]);
        return o;
    }
}
