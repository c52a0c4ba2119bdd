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
        RolePlan base = planWith.apply(List.of());
        long slack = budget - fileSize(base, c, scratch);
        Packing packing = Packing.parse(c.packing);
        List<HfTensor> candidates = new ArrayList<>();
        Map<String, Long> extra = new HashMap<>();
        for (HfTensor t : base.targets()) {
            long rows = t.storedRows(), cols = t.storedCols();
            long more = rows * cols - rows * packing.bytesPerRow((int) cols); // both keep a 4-byte scale per row
            if (more <= slack) {
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
        List<String> chosen = knapsack(candidates.stream().map(HfTensor::name).toList(), gain, extra, slack);
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
