package bitnet.engine.quant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import bitnet.io.SafetensorsFile;
import bitnet.io.TensorData;
import java.lang.foreign.Arena;
import java.lang.foreign.ValueLayout;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

class QuantizerTest {

    private static double mse(float[] w, QuantResult r) {
        return LayerStats.of("w", w, r).mse();
    }

    /** Runs check(name, weight, seedRef-prefix...) over every quantized tensor of every hf-tiny case. */
    private interface PerWeight {
        void check(String caseName, String name, float[] w, int rows, int cols, SafetensorsFile refs);
    }

    private static int forEachRefWeight(PerWeight body) throws Exception {
        int n = 0;
        for (String c : HfTinyWeights.CASES) {
            try (Arena arena = Arena.ofConfined()) {
                SafetensorsFile refs =
                        SafetensorsFile.open(HfTinyWeights.ROOT.resolve(c).resolve("refs.safetensors"), arena);
                Map<String, TensorData> model = HfTinyWeights.load(c, arena);
                int inCase = 0;
                for (String key : refs.tensors().keySet()) {
                    if (!key.startsWith("quant.seed0.1.") || !key.endsWith(".q")) {
                        continue;
                    }
                    String name = key.substring("quant.seed0.1.".length(), key.length() - 2);
                    TensorData t = model.get(name);
                    assertNotNull(t, c + ": source weight " + name + " not found");
                    assertEquals(2, t.rank(), name);
                    body.check(c, name, t.toFloatArray(), t.dim(0), t.dim(1), refs);
                    inCase++;
                }
                assertTrue(inCase >= 4, c + ": only " + inCase + " quantized weights in refs");
                n += inCase;
            }
        }
        return n;
    }

    private static byte[] refQ(SafetensorsFile refs, String key) {
        return refs.get(key).data().toArray(ValueLayout.JAVA_BYTE);
    }

    @Test
    void seedMatchesReference() throws Exception {
        Quantizer seed = Quantizer.parse("seed:0.1");
        int n = forEachRefWeight((c, name, w, rows, cols, refs) -> {
            QuantResult r = seed.quantize(name, w, rows, cols);
            assertTrue(r.perRow());
            assertArrayEquals(refQ(refs, "quant.seed0.1." + name + ".q"), r.q(), c + " " + name + " q");
            float[] s = refs.get("quant.seed0.1." + name + ".scale").toFloatArray();
            assertEquals(rows, s.length);
            for (int i = 0; i < rows; i++) {
                assertEquals(s[i], r.scale()[i], 1e-6, c + " " + name + " scale " + i);
            }
        });
        assertTrue(n >= 40, "checked " + n);
    }

    @Test
    void absmeanMatchesReference() throws Exception {
        Quantizer b158 = Quantizer.parse("absmean");
        forEachRefWeight((c, name, w, rows, cols, refs) -> {
            QuantResult r = b158.quantize(name, w, rows, cols);
            assertFalse(r.perRow());
            assertArrayEquals(refQ(refs, "quant.b158." + name + ".q"), r.q(), c + " " + name + " q");
            float[] s = refs.get("quant.b158." + name + ".scale").toFloatArray();
            assertEquals(1, s.length);
            assertEquals(s[0], r.scale()[0], 1e-6, c + " " + name + " scale");
        });
    }

    @Test
    void twnNeverWorseOnReferenceWeights() throws Exception {
        Quantizer twn = Quantizer.parse("twn");
        Quantizer seed = Quantizer.parse("seed:0.1");
        Quantizer b158 = Quantizer.parse("absmean");
        forEachRefWeight((c, name, w, rows, cols, refs) -> {
            double t = mse(w, twn.quantize(name, w, rows, cols));
            double s = mse(w, seed.quantize(name, w, rows, cols));
            double b = mse(w, b158.quantize(name, w, rows, cols));
            assertTrue(t <= s * (1 + 1e-6), c + " " + name + ": twn " + t + " > seed " + s);
            assertTrue(t <= b * (1 + 1e-6), c + " " + name + ": twn " + t + " > absmean " + b);
        });
    }

    @Test
    void twnNeverWorseOnRandomMatricesAndIsOptimal() {
        Random rnd = new Random(5);
        Quantizer twn = Quantizer.parse("twn");
        for (int trial = 0; trial < 30; trial++) {
            int rows = 1 + rnd.nextInt(9), cols = 1 + rnd.nextInt(40);
            float[] w = new float[rows * cols];
            for (int i = 0; i < w.length; i++) {
                w[i] = (float)
                        (trial % 2 == 0
                                ? rnd.nextGaussian()
                                : Math.pow(rnd.nextDouble(), 3) * (rnd.nextBoolean() ? 1 : -1));
            }
            QuantResult t = twn.quantize("r", w, rows, cols);
            double tm = mse(w, t);
            for (String spec : new String[] {"seed:0.1", "seed:0.5", "seed:0", "absmean"}) {
                double o = mse(w, Quantizer.parse(spec).quantize("r", w, rows, cols));
                assertTrue(tm <= o * (1 + 1e-6), spec + ": twn " + tm + " > " + o);
            }
            // brute force on small rows: every threshold set and the best scale for it
            if (cols <= 12) {
                for (int r = 0; r < rows; r++) {
                    double best = Double.MAX_VALUE;
                    for (int mask = 0; mask < (1 << cols); mask++) {
                        double n = 0, k = 0, sq = 0;
                        for (int c = 0; c < cols; c++) {
                            double v = w[r * cols + c];
                            sq += v * v;
                            if ((mask >> c & 1) != 0) {
                                n += Math.abs(v);
                                k++;
                            }
                        }
                        best = Math.min(best, k == 0 ? sq : sq - n * n / k);
                    }
                    double got = 0;
                    for (int c = 0; c < cols; c++) {
                        double e = w[r * cols + c] - (double) t.scale()[r] * t.q()[r * cols + c];
                        got += e * e;
                    }
                    assertEquals(best, got, 1e-5 * (best + 1e-6), "row " + r);
                }
            }
        }
    }

    @Test
    void plainTwnMatchesTheKeyedSortBitForBit() {
        // twn without statistics sorts magnitudes only; with statistics all 1 it takes the
        // (magnitude, column) key sort: the same codes and scales, ties included (BF16-rounded
        // weights tie often; whole rows of one value; zeros; a row of zeros)
        Random r = new Random(23);
        for (int[] shape : new int[][] {{7, 1}, {5, 3}, {33, 96}, {64, 257}, {16, 1024}}) {
            int rows = shape[0], cols = shape[1];
            for (int kind = 0; kind < 4; kind++) {
                float[] w = new float[rows * cols];
                for (int i = 0; i < w.length; i++) {
                    float v = (float) r.nextGaussian();
                    w[i] = switch (kind) {
                        case 0 -> v;
                        case 1 -> Float.intBitsToFloat(Float.floatToRawIntBits(v) & 0xffff0000); // BF16
                        case 2 -> (r.nextInt(5) - 2) * 0.25f; // few distinct values
                        default -> i / cols % 3 == 0 ? 0f : i / cols % 3 == 1 ? -0.5f : v * 1e-3f;
                    };
                }
                float[] ones = new float[cols];
                java.util.Arrays.fill(ones, 1f);
                QuantResult plain = Quantizers.twn(w, rows, cols, null), keyed = Quantizers.twn(w, rows, cols, ones);
                String at = rows + "x" + cols + " kind " + kind;
                assertArrayEquals(keyed.q(), plain.q(), at);
                assertArrayEquals(keyed.scale(), plain.scale(), at);
            }
        }
    }

    @Test
    void activationAwareTwnMinimisesWeightedError() {
        Random rnd = new Random(6);
        int rows = 5, cols = 10;
        float[] w = new float[rows * cols];
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) rnd.nextGaussian();
        }
        float[] a = new float[cols];
        for (int j = 0; j < cols; j++) {
            a[j] = (float) Math.exp(2 * rnd.nextGaussian());
        }
        Quantizer aw = Quantizer.twnActivationAware(n -> n.equals("w") ? a : null);
        assertEquals("twn-aw", aw.name());
        QuantResult r = aw.quantize("w", w, rows, cols);
        QuantResult plain = Quantizer.parse("twn").quantize("w", w, rows, cols);
        for (int row = 0; row < rows; row++) {
            double best = Double.MAX_VALUE;
            for (int mask = 0; mask < (1 << cols); mask++) {
                double n = 0, d = 0, sq = 0;
                for (int c = 0; c < cols; c++) {
                    double v = w[row * cols + c];
                    sq += a[c] * v * v;
                    if ((mask >> c & 1) != 0) {
                        n += a[c] * Math.abs(v);
                        d += a[c];
                    }
                }
                best = Math.min(best, d == 0 ? sq : sq - n * n / d);
            }
            double got = 0, gotPlain = 0;
            for (int c = 0; c < cols; c++) {
                double e = w[row * cols + c] - (double) r.scale()[row] * r.q()[row * cols + c];
                double ep = w[row * cols + c] - (double) plain.scale()[row] * plain.q()[row * cols + c];
                got += a[c] * e * e;
                gotPlain += a[c] * ep * ep;
            }
            assertEquals(best, got, 1e-5 * best, "row " + row);
            assertTrue(got <= gotPlain * (1 + 1e-6));
        }
        // without statistics for a tensor it is plain twn
        assertArrayEquals(plain.q(), aw.quantize("other", w, rows, cols).q());
        assertThrows(IllegalArgumentException.class, () -> aw.quantize("w", new float[6], 2, 3));
    }

    @Test
    void parseAndStats() {
        assertEquals("seed:0.1", Quantizer.parse("seed:0.1").name());
        assertEquals("absmean", Quantizer.parse("absmean").name());
        assertEquals("twn", Quantizer.parse("twn").name());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Quantizer.parse("int4"));
        assertTrue(e.getMessage().contains("seed:TAU")
                && e.getMessage().contains("absmean")
                && e.getMessage().contains("twn"));
        assertThrows(IllegalArgumentException.class, () -> Quantizer.parse("seed:x"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Quantizer.parse("twn-aw"))
                .getMessage()
                .contains("calibration"));
        assertThrows(IllegalArgumentException.class, () -> Quantizer.parse("seed:-1"));

        float[] w = {1f, -2f, 0.05f, 0f, 3f, -3f};
        QuantResult r = Quantizer.parse("seed:0.1").quantize("t", w, 2, 3);
        // row 0: s = 3.05/3, threshold 0.1017 -> 0.05 zeroed; row 1: s = 2
        assertArrayEquals(new byte[] {1, -1, 0, 0, 1, -1}, r.q());
        LayerStats st = LayerStats.of("t", w, r);
        float s0 = r.scale()[0];
        double err = Math.pow(1 - s0, 2) + Math.pow(-2 + s0, 2) + 0.05 * 0.05 + 0 + 1 + 1;
        assertEquals(err / 6, st.mse(), 1e-7);
        assertEquals(Math.sqrt(err / (1 + 4 + 0.0025 + 9 + 9)), st.relError(), 1e-7);
        assertEquals(2.0 / 6, st.sparsity(), 1e-12);
        assertEquals(s0, st.scaleMin(), 1e-7);
        assertEquals(2.0, st.scaleMax(), 1e-7);
        float[] d = r.dequantize();
        assertEquals(-2f, d[5]);
        assertEquals(s0, d[0]);
    }
}
