package bitnet.engine.compress;

import bitnet.engine.eval.Perplexity;
import bitnet.engine.model.HfTensor;
import bitnet.engine.model.Model;
import bitnet.engine.quant.Quantizer;
import bitnet.engine.train.Qat;
import bitnet.engine.util.MetricsLog;
import bitnet.io.Packing;
import bitnet.io.packed.PackedFileWriter;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Function;
import java.util.logging.Logger;

/**
 * sensitive_int8 auto: stores the linear layers whose ternary rounding costs the most held-out
 * loss as per-row int8 instead, as long as the packed file still meets the compression target.
 * Each layer's sensitivity is measured, not guessed: with every other target ternary, the
 * held-out loss on a few evaluation windows with that one layer at int8; the layers kept at int8
 * are the set with the most loss gained (summed) whose extra bytes fit the byte budget (FP32
 * bytes / target ratio): a 0/1 knapsack. On the demo the first layer's MLP and value projection are the most sensitive (ppl
 * 189.6 all ternary; 157.7 with layers.0 up_proj at int8, 176.1 with layers.0 v_proj; the last
 * layers gain under 1%).
 *
 * <p>With embedding_precision auto it also decides the embeddings' precision: int4 (llama.cpp's
 * Q4_0 blocks) takes about half the bytes of int8, so more layers fit at int8; the held-out loss
 * that int4 embeddings cost is measured the same way (all targets ternary) and the choice is the
 * one with the larger summed gain. On the demo, whose tied embedding is half the parameters, int4
 * costs 88.05 -> 89.00 before fine-tuning while the bytes it frees hold the first two layers at
 * int8 (109.3 against 159.9 before fine-tuning).
 */
final class SensitiveLayers {
    private static final Logger LOG = Logger.getLogger("bitnet");
    /** Above this many candidate layers the measurement would cost more than it is worth here. */
    static final int MAX_CANDIDATES = 64;

    private SensitiveLayers() {}

    /**
     * The full names of the layers to store as int8 (empty when none fits or helps).
     *
     * @param planWith the role plan with these layers at int8 (the packed file's declaration)
     * @param scratch a directory for a size probe (a header written and deleted)
     */
    static List<String> choose(
            CompressConfig c,
            Model m,
            Function<List<String>, RolePlan> planWith,
            Quantizer qz,
            int[] evalIds,
            int L,
            long fp32Bytes,
            Path scratch,
            MetricsLog metrics)
            throws IOException {
        long budget = (long) Math.floor(fp32Bytes / c.target_compression_ratio);
        boolean auto = c.embedding_precision.equals("auto");
        if (auto) {
            c.embedding_precision = "int8";
        }
        RolePlan base = planWith.apply(List.of());
        long slack = budget - fileSize(base, c, scratch);
        // the int4 alternative (auto only): the same plan with int4 embeddings, and its spare bytes
        RolePlan base4 = null;
        long slack4 = slack;
        if (auto) {
            c.embedding_precision = "int4";
            base4 = planWith.apply(List.of());
            c.embedding_precision = "int8";
            if (base4.entries().values().stream().anyMatch(e -> e.role() == RolePlan.Role.INT4)) {
                slack4 = budget - fileSize(base4, c, scratch);
            } else {
                base4 = null;
            }
        }
        Packing packing = Packing.parse(c.packing);
        List<HfTensor> candidates = new ArrayList<>();
        Map<String, Long> extra = new HashMap<>();
        for (HfTensor t : base.targets()) {
            long rows = t.storedRows(), cols = t.storedCols();
            long more = rows * cols - rows * packing.bytesPerRow((int) cols); // both keep a 4-byte scale per row
            if (more <= Math.max(slack, slack4)) {
                candidates.add(t);
                extra.put(t.name(), more);
            }
        }
        if (candidates.isEmpty() || candidates.size() > MAX_CANDIDATES) {
            LOG.info(String.format(
                    Locale.ROOT,
                    "sensitive_int8: %d layers fit the %,d spare bytes: none measured",
                    candidates.size(),
                    Math.max(slack, 0)));
            return List.of();
        }
        Map<String, float[]> ternary = new HashMap<>();
        for (HfTensor t : base.targets()) {
            ternary.put(
                    t.name(),
                    qz.quantize(t.name(), m.getHf(t), t.storedRows(), t.storedCols())
                            .dequantize());
        }
        int windows = Math.min(c.eval_windows, 8);
        double baseNll = nll(m, ternary, null, null, evalIds, L, windows);
        Map<String, Double> gain = new HashMap<>();
        for (HfTensor t : candidates) {
            float[] w8 =
                    RolePlan.int8(m.getHf(t), t.storedRows(), t.storedCols()).dequantize(t.storedCols());
            gain.put(t.name(), baseNll - nll(m, ternary, t.name(), w8, evalIds, L, windows));
        }
        List<String> names = candidates.stream().map(HfTensor::name).toList();
        List<String> chosen;
        if (base4 != null) {
            // int4 embeddings: their measured cost against the gain of what the freed bytes hold
            double cost4 = nll4(m, base4, ternary, evalIds, L, windows) - baseNll;
            Choice ch = decide(names, gain, extra, slack, slack4, cost4);
            metrics.log(
                    "embedding_precision", "int4_nll_cost", cost4, "int8_gain", ch.gain8(), "int4_gain", ch.gain4());
            LOG.info(String.format(
                    Locale.ROOT,
                    "embedding_precision auto: int4 embeddings cost %.4f nats and leave %,d spare bytes (int8: %,d);"
                            + " summed gain %.4f vs %.4f: %s",
                    cost4,
                    slack4,
                    slack,
                    ch.gain4(),
                    ch.gain8(),
                    ch.int4() ? "int4" : "int8"));
            c.embedding_precision = ch.int4() ? "int4" : "int8";
            chosen = ch.layers();
        } else {
            chosen = knapsack(names, gain, extra, slack);
        }
        // the header grows with each int8 entry: drop the last choices until the exact size fits
        while (!chosen.isEmpty() && fileSize(planWith.apply(chosen), c, scratch) > budget) {
            chosen.remove(chosen.size() - 1);
        }
        for (String n : chosen) {
            metrics.log("sensitive_int8", "layer", n, "nll_gain", gain.get(n), "extra_bytes", extra.get(n));
        }
        LOG.info(String.format(
                Locale.ROOT,
                "sensitive_int8: %d layers measured on %d windows (all ternary: loss %.4f); int8: %s",
                candidates.size(),
                windows,
                baseNll,
                chosen.isEmpty() ? "none" : String.join(", ", chosen)));
        return chosen;
    }

    /** The candidates maximising the summed gain with summed extra bytes within slack (dynamic programming, in model order). */
    static List<String> knapsack(
            List<String> candidates, Map<String, Double> gain, Map<String, Long> extra, long slack) {
        // bytes in units that keep the table small: at most 4096 columns
        long unit = Math.max(1, (slack + 4095) / 4096);
        int cap = (int) (slack / unit), n = candidates.size();
        double[][] best = new double[n + 1][cap + 1];
        for (int i = 1; i <= n; i++) {
            String name = candidates.get(i - 1);
            int w = (int) ((extra.get(name) + unit - 1) / unit); // rounded up: the chosen set never exceeds slack
            double g = gain.get(name);
            for (int b = 0; b <= cap; b++) {
                best[i][b] = best[i - 1][b];
                if (g > 0 && w <= b && best[i - 1][b - w] + g > best[i][b]) {
                    best[i][b] = best[i - 1][b - w] + g;
                }
            }
        }
        List<String> chosen = new ArrayList<>();
        for (int i = n, b = cap; i > 0; i--) {
            if (best[i][b] != best[i - 1][b]) {
                String name = candidates.get(i - 1);
                chosen.add(0, name);
                b -= (int) ((extra.get(name) + unit - 1) / unit);
            }
        }
        return chosen;
    }

    /** The embeddings' precision and the int8 layers: int4 when its best set, less its cost, gains more. */
    record Choice(boolean int4, List<String> layers, double gain8, double gain4) {}

    /**
     * The best layer set within the spare bytes of int8 embeddings (slack) and within those of int4
     * ones (slack4), and which gains more once int4's measured loss (cost4, nats) is taken off.
     */
    static Choice decide(
            List<String> names,
            Map<String, Double> gain,
            Map<String, Long> extra,
            long slack,
            long slack4,
            double cost4) {
        List<String> c8 =
                knapsack(names.stream().filter(n -> extra.get(n) <= slack).toList(), gain, extra, slack);
        List<String> c4 = knapsack(names, gain, extra, slack4);
        double g8 = sum(c8, gain), g4 = sum(c4, gain) - cost4;
        return g4 > g8 ? new Choice(true, c4, g8, g4) : new Choice(false, c8, g8, g4);
    }

    private static double sum(List<String> names, Map<String, Double> gain) {
        return names.stream().mapToDouble(gain::get).sum();
    }

    /** Held-out loss with the targets ternary and the embeddings (plan roles INT4) at int4. */
    private static double nll4(Model m, RolePlan plan4, Map<String, float[]> ternary, int[] ids, int L, int windows) {
        Map<HfTensor, float[]> saved = new HashMap<>();
        for (RolePlan.Entry e : plan4.entries().values()) {
            if (e.role() == RolePlan.Role.INT4) {
                HfTensor t = e.tensor();
                float[] w = m.getHf(t);
                saved.put(t, w);
                m.setHf(t, RolePlan.int4(w, t.storedRows(), t.storedCols()).dequantize(t.storedRows(), t.storedCols()));
            }
        }
        try {
            return nll(m, ternary, null, null, ids, L, windows);
        } finally {
            saved.forEach(m::setHf);
        }
    }

    /** Held-out loss with the targets ternary and layer `name` (if any) at the given weight. */
    private static double nll(
            Model m, Map<String, float[]> ternary, String name, float[] w, int[] ids, int L, int windows) {
        Qat q = new Qat(m, (n, x, r, cc) -> n.equals(name) ? w : ternary.getOrDefault(n, x));
        q.quantize();
        double v = Perplexity.compute(m, ids, L, windows, 8).meanNll();
        q.release();
        return v;
    }

    private static long fileSize(RolePlan plan, CompressConfig c, Path scratch) throws IOException {
        try (PackedFileWriter w = plan.open(scratch.resolve("size-probe.safetensors"), c)) {
            return w.fileSize();
        }
    }
}
