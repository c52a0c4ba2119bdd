package bitnet.engine.train;

import bitnet.engine.eval.Perplexity;
import bitnet.engine.model.Model;
import bitnet.engine.model.Param;
import bitnet.engine.util.MetricsLog;
import bitnet.engine.util.Progress;
import bitnet.kernels.Buf;
import bitnet.kernels.Kernels;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.logging.Logger;

/**
 * The training loop: batches of random windows from a token stream (a pure function of seed and
 * step, so a resumed run sees the same data), gradient accumulation, warmup + cosine schedule,
 * Grokfast + clipping + AdamW, periodic evaluation, a divergence guard, metrics, progress, and
 * atomic checkpoints for --resume. With a FakeQuant it is quantization-aware training (STE).
 */
public final class Trainer {
    private static final Logger LOG = Logger.getLogger("bitnet");

    public record Result(
            int steps,
            double lastLoss,
            double bestEvalPpl,
            List<double[]> evalCurve,
            double tokensPerSecond,
            double seconds,
            int restarts) {}

    private final Model m;
    private final Kernels k;
    private TrainConfig c;
    private final int[] train;
    private final int[] eval;
    private final MetricsLog metrics;
    private final Qat qat;
    private final Optimizer opt;
    private final Path checkpointDir;
    private float lrScale = 1f;
    private int step;
    private double bestEval = Double.POSITIVE_INFINITY;
    private int badEvals;
    private int restarts;
    private Snapshot good;
    private java.util.function.IntConsumer listener = s -> {};
    private Distiller distiller;
    private double timeBudget;
    private int evalSeqLen = -1;

    /** Distils from a frozen teacher instead of plain next-token loss (null: off). */
    public void distill(Distiller d) {
        this.distiller = d;
    }

    /**
     * Fits the run to a wall-time budget (seconds, evaluations included): the step count is
     * re-estimated from the measured time per step after 10 steps, every 5% of the run and after
     * every evaluation (not in the last 10%), and the warmup + cosine schedule follows the new
     * count; the run stops once the budget is spent.
     */
    public void timeBudget(double seconds) {
        this.timeBudget = seconds;
    }

    /** Evaluation windows of this many tokens (default: the training sequence length). */
    public void evalSeqLen(int t) {
        this.evalSeqLen = t;
    }

    /** Time spent in distillation (teacher forwards, whole loss-and-backward), for metadata; null without. */
    public java.util.Map<String, Object> distillStats() {
        if (distiller == null) {
            return null;
        }
        return java.util.Map.of(
                "teacher_forward_s",
                distiller.teacherNanos / 1e9,
                "student_forward_s",
                distiller.studentForwardNanos / 1e9,
                "loss_and_backward_s",
                distiller.totalNanos / 1e9);
    }

    public TrainConfig config() {
        return c;
    }

    /** Called after each completed step (and its checkpoint, if one was due) with the step count. */
    public void onStep(java.util.function.IntConsumer l) {
        this.listener = l;
    }

    public Trainer(
            Model m,
            FakeQuant fq,
            TrainConfig c,
            int[] trainIds,
            int[] evalIds,
            MetricsLog metrics,
            Path checkpointDir) {
        if (trainIds.length < c.seqLen() + 2) {
            throw new IllegalArgumentException(
                    "training text has " + trainIds.length + " tokens, fewer than one sequence of " + (c.seqLen() + 1));
        }
        this.m = m;
        this.k = m.k;
        this.c = c;
        this.train = trainIds;
        this.eval = evalIds;
        this.metrics = metrics;
        this.qat = fq == null ? null : new Qat(m, fq);
        this.opt = new Optimizer(k, TrainSteps.trainable(m), c.optimizer());
        this.checkpointDir = checkpointDir;
    }

    public Qat qat() {
        return qat;
    }

    /** Fills in[] and tg[] (B*T each) for one micro-batch: random windows, a pure function of (seed, step, micro). */
    void batch(int stepIdx, int micro, int[] in, int[] tg) {
        int B = c.batchSize(), T = c.seqLen();
        SplittableRandom r = new SplittableRandom(c.seed() * 1_000_003L + stepIdx * 257L + micro);
        for (int b = 0; b < B; b++) {
            int s = r.nextInt(train.length - T);
            System.arraycopy(train, s, in, b * T, T);
            System.arraycopy(train, s + 1, tg, b * T, T);
        }
    }

    /** Perplexity of the current (quantized, under QAT) weights on the evaluation ids. */
    public Perplexity.Result evaluate() {
        if (qat != null) {
            qat.quantize();
        }
        return Perplexity.compute(
                m, eval, evalSeqLen > 0 ? evalSeqLen : c.seqLen(), c.evalWindows(), Math.max(1, c.batchSize()));
    }

    public Result run(boolean resume) {
        if (resume && checkpointDir != null && Checkpoints.exists(checkpointDir)) {
            Checkpoints.State st = Checkpoints.load(checkpointDir, m, opt);
            step = st.step();
            lrScale = st.lrScale();
            bestEval = st.bestEval();
            badEvals = st.badEvals();
            restarts = st.restarts();
            LOG.info("resumed from " + checkpointDir + " at step " + step);
            metrics.log("resume", "step", step);
        }
        int B = c.batchSize(), T = c.seqLen();
        int[] in = new int[B * T], tg = new int[B * T];
        good = new Snapshot(step);
        List<double[]> curve = new ArrayList<>();
        Progress bar = new Progress("fine-tune", c.steps(), "steps");
        long tokens = 0;
        long t0 = System.nanoTime();
        double lastLoss = Double.NaN;
        int startStep = step;
        while (step < c.steps()) {
            float lr = c.lrAt(step) * lrScale;
            if (qat != null) {
                qat.quantize();
            }
            m.zeroGrad();
            double loss = 0;
            boolean measure =
                    distiller != null && (step + 1) % Math.max(1, c.evalEvery() > 0 ? c.evalEvery() : 100) == 0;
            for (int micro = 0; micro < c.gradAccum(); micro++) {
                batch(step, micro, in, tg);
                loss += (distiller == null
                                ? m.loss(in, tg, B, T, true)
                                : distiller.lossAndBackward(m, in, tg, B, T, measure))
                        / c.gradAccum();
            }
            if (c.gradAccum() > 1) {
                for (Param p : opt.params()) {
                    k.scale(p.grad(k), p.size(), 1f / c.gradAccum());
                }
            }
            opt.filter();
            double norm = opt.clip(c.maxGradNorm());
            if (!Double.isFinite(loss) || !Double.isFinite(norm)) {
                diverged("loss " + loss + ", gradient norm " + norm);
                continue;
            }
            if (qat != null) {
                qat.update(lr);
            }
            opt.step(lr);
            tokens += (long) B * T * c.gradAccum();
            step++;
            lastLoss = loss;
            if (timeBudget
                    > 0) { // re-estimated after 10 steps, and on the step after each evaluation (its cost included)
                fitToBudget(
                        startStep,
                        (System.nanoTime() - t0) / 1e9,
                        c.evalEvery() > 0 && step > 1 && (step - 1) % c.evalEvery() == 0);
            }
            double secs = (System.nanoTime() - t0) / 1e9;
            double tps = tokens / Math.max(secs, 1e-9);
            metrics.log("train", "step", step, "loss", loss, "lr", (double) lr, "grad_norm", norm, "tokens_per_s", tps);
            if (measure) {
                metrics.log(
                        "distill",
                        "step",
                        step,
                        "kl_logits",
                        distiller.lastKl,
                        "relation_loss",
                        distiller.lastRel,
                        "total_loss",
                        distiller.lastTotal,
                        "teacher_s",
                        distiller.teacherNanos / 1e9,
                        "loss_s",
                        distiller.totalNanos / 1e9);
            }
            bar.total(c.steps()); // a time budget may have refitted it
            bar.update(step, String.format(Locale.ROOT, "loss %.4f, lr %.2e, %.0f tok/s", loss, lr, tps));
            if (eval != null && c.evalEvery() > 0 && (step % c.evalEvery() == 0 || step == c.steps())) {
                double ppl = evaluate().ppl();
                curve.add(new double[] {step, ppl});
                metrics.log("eval", "step", step, "ppl", ppl);
                LOG.info(String.format(Locale.ROOT, "step %d: eval perplexity %.3f", step, ppl));
                if (!Double.isFinite(ppl)) {
                    diverged("eval perplexity " + ppl);
                    continue;
                }
                if (ppl < bestEval) {
                    bestEval = ppl;
                    badEvals = 0;
                    good.close();
                    good = new Snapshot(step);
                } else if (++badEvals >= c.patience()) {
                    diverged("eval perplexity rose for " + badEvals + " evaluations (best " + bestEval + ")");
                    continue;
                }
            }
            if (checkpointDir != null
                    && c.checkpointEvery() > 0
                    && step % c.checkpointEvery() == 0
                    && step < c.steps()) {
                Checkpoints.save(
                        checkpointDir, m, opt, new Checkpoints.State(step, lrScale, bestEval, badEvals, restarts));
            }
            listener.accept(step);
        }
        bar.finish(String.format(Locale.ROOT, "loss %.4f", lastLoss));
        if (distiller != null) {
            distiller.release(m);
        }
        double secs = (System.nanoTime() - t0) / 1e9;
        good.close();
        if (qat != null) {
            qat.quantize();
        }
        return new Result(step, lastLoss, bestEval, curve, tokens / Math.max(secs, 1e-9), secs, restarts);
    }

    /** Re-estimates the step count from the time per step so far; ends the run when the budget is spent. */
    private void fitToBudget(int startStep, double secs, boolean evaluated) {
        int done = step - startStep;
        if (done <= 0) {
            return;
        }
        if (secs >= timeBudget) {
            c = c.withSteps(step);
            return;
        }
        // the first steps include JIT warm-up: re-estimate every 5% of the run, and after each evaluation (its cost
        // included), until the last 10% so the end of the cosine stays put
        boolean due = done == 10 || (done > 10 && done % Math.max(10, c.steps() / 20) == 0) || evaluated;
        if (due && step < 0.9 * c.steps()) {
            int total = step + (int) Math.floor((timeBudget - secs) / (secs / done));
            if (total != c.steps()) {
                LOG.info(String.format(
                        Locale.ROOT,
                        "time budget %.0fs: %.2fs per step so far, fitting the schedule to %d steps",
                        timeBudget,
                        secs / done,
                        total));
                metrics.log("time_budget", "step", step, "seconds", secs, "steps", total);
                c = c.withSteps(Math.max(total, step + 1));
            }
        }
    }

    private void diverged(String why) {
        restarts++;
        lrScale *= 0.5f;
        String msg = String.format(
                Locale.ROOT,
                "divergence guard: %s at step %d; restoring step %d and halving the learning rate (scale %.3g)",
                why,
                step,
                good.step,
                lrScale);
        LOG.warning(msg);
        metrics.log(
                "divergence", "step", step, "reason", why, "restored_step", good.step, "lr_scale", (double) lrScale);
        good.restore();
        step = good.step;
        badEvals = 0;
        if (restarts > 8) {
            throw new IllegalStateException(
                    "training keeps diverging (" + restarts + " restarts); lower the learning rate");
        }
    }

    public Optimizer optimizer() {
        return opt;
    }

    /** An in-memory copy of parameters and optimizer state (the divergence guard's last good state). */
    private final class Snapshot implements AutoCloseable {
        final int step;
        final int optStep;
        final int[] counters;
        final List<Buf> copies = new ArrayList<>();
        final List<Buf> sources = new ArrayList<>();

        Snapshot(int step) {
            this.step = step;
            this.optStep = opt.step;
            this.counters = opt.filterCounters();
            for (Param p : opt.params()) {
                add(p.value);
            }
            for (Buf b : opt.stateBuffers()) {
                add(b);
            }
        }

        private void add(Buf b) {
            Buf c = k.alloc(b.size());
            k.copy(c, 0, b, 0, b.size());
            copies.add(c);
            sources.add(b);
        }

        void restore() {
            for (int i = 0; i < copies.size(); i++) {
                k.copy(sources.get(i), 0, copies.get(i), 0, copies.get(i).size());
            }
            opt.restoreCounters(optStep, counters);
        }

        @Override
        public void close() {
            for (Buf b : copies) {
                b.close();
            }
        }
    }
}
