package bitnet.engine.cli;

import bitnet.api.BitnetModel;
import bitnet.api.Sampling;
import bitnet.api.StepSettings;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * Throughput of whole-model work (for bench/compare): a QAT training step (forward + backward +
 * Grokfast + AdamW) and batch-1 generation, after warm-up steps so the JIT has compiled the
 * kernels. Prints one JSON object.
 */
@Command(name = "speed", description = "Measure training and generation tokens/s on a model (JSON).")
public final class SpeedCmd implements Callable<Integer> {
    @Mixin
    Common common;

    @Mixin
    ModelArgs model;

    @Option(names = "--batch-size", defaultValue = "16")
    int batch;

    @Option(names = "--seq-len", defaultValue = "256")
    int seqLen;

    @Option(names = "--steps", defaultValue = "5", description = "timed training steps")
    int steps;

    @Option(names = "--warmup", defaultValue = "2", description = "untimed training steps first")
    int warmup;

    @Option(names = "--qat", defaultValue = "twn")
    String qat;

    @Option(names = "--gen-tokens", defaultValue = "128")
    int genTokens;

    @Option(
            names = "--gen-model",
            description = "model for the generation figure (default: --model); "
                    + "a compress output directory runs its packed ternary weights")
    java.nio.file.Path genModel;

    @Option(names = "--generate-only", description = "skip the training step and the FP32 generation (large models)")
    boolean generateOnly;

    @Override
    public Integer call() {
        Map<String, Object> o = new LinkedHashMap<>();
        if (!generateOnly) {
            train(o);
        }
        java.nio.file.Path gen = genModel != null ? genModel : model.model;
        try (BitnetModel m = BitnetModel.load(gen, common.options())) {
            o.putIfAbsent("backend", m.backend());
            o.put("generate_tokens_per_s", generationRate(m, 1 % m.vocabSize()));
            o.put("generate_weights", m.isPacked() ? "packed ternary" : "as stored");
        }
        Outputs.printJson(o);
        return 0;
    }

    /** The timed QAT training steps and the FP32 (train-mode weights) generation figure, into o. */
    private void train(Map<String, Object> o) {
        try (BitnetModel m = BitnetModel.load(model.model, common.options().withTrainable(true))) {
            int T = Math.min(seqLen, m.maxPositions());
            int[] ids = new int[batch * T];
            SplittableRandom r = new SplittableRandom(1);
            for (int i = 0; i < ids.length; i++) {
                ids[i] = r.nextInt(m.vocabSize());
            }
            var s = new StepSettings(1e-4, 0, 0.9, 0.95, 1e-8, "ema:0.98:2.0", qat);
            if (warmup > 0) {
                m.trainSteps(ids, batch, T, warmup, s);
            }
            long t0 = System.nanoTime(), cpu0 = processCpuNanos();
            long[] stepNanos = new long[steps];
            m.trainSteps(ids, batch, T, steps, s, stepNanos);
            double secs = (System.nanoTime() - t0) / 1e9;
            double cpuSecs = (processCpuNanos() - cpu0) / 1e9;
            o.put("backend", m.backend());
            o.put("train_batch", batch + "x" + T);
            o.put("train_tokens_per_s", (double) steps * batch * T / secs);
            o.put("train_step_s", secs / steps);
            // the median step as well (libtorch's peer reports that): a step that the host or the
            // JIT slowed moves the mean, not the median
            long[] sorted = stepNanos.clone();
            java.util.Arrays.sort(sorted);
            double median = (sorted[(steps - 1) / 2] + sorted[steps / 2]) / 2e9;
            o.put("train_step_s_median", median);
            o.put("train_tokens_per_s_median", batch * T / median);
            double flops = m.trainingFlopsPerToken(T);
            o.put("train_flops_per_token", flops);
            o.put("train_gflops", flops * steps * batch * T / secs / 1e9);
            // CPU seconds of this process per step (all threads, idle-spinning workers included):
            // steadier than wall time when other processes share the cores
            o.put("train_cpu_s_per_step", cpuSecs / steps);
            o.put("generate_fp32_tokens_per_s", generationRate(m, ids[0]));
        }
    }

    /**
     * Greedy batch-1 tokens/s from a one-token prompt: the best of 3 timed generations of
     * --gen-tokens, after 4 untimed ones (a single short warm-up left the table kernels in the
     * JIT's slow tiers: 815 tokens/s where warm code runs several times faster).
     */
    private double generationRate(BitnetModel m, int first) {
        int[] prompt = {first};
        int n = Math.max(1, Math.min(genTokens, m.maxPositions() - 1));
        for (int i = 0; i < 4; i++) {
            m.generate(prompt, n, Sampling.greedyDecoding(), false, null);
        }
        double best = 0;
        for (int i = 0; i < 3; i++) {
            long g0 = System.nanoTime();
            int[] out = m.generate(prompt, n, Sampling.greedyDecoding(), false, null);
            best = Math.max(best, (out.length - 1) / ((System.nanoTime() - g0) / 1e9));
        }
        return best;
    }

    private static long processCpuNanos() {
        return java.lang.management.ManagementFactory.getOperatingSystemMXBean()
                        instanceof com.sun.management.OperatingSystemMXBean os
                ? os.getProcessCpuTime()
                : 0L;
    }
}
