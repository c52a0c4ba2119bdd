package bitnet.api;

import bitnet.engine.model.HfTensor;
import bitnet.engine.model.HfWriter;
import bitnet.engine.model.Model;
import bitnet.engine.model.Param;
import bitnet.engine.train.FakeQuant;
import bitnet.engine.train.FakeQuants;
import bitnet.engine.train.GradientFlow;
import bitnet.engine.train.Grokfast;
import bitnet.engine.train.Optimizer;
import bitnet.engine.train.TrainSteps;
import bitnet.engine.train.Trainer;
import bitnet.engine.util.MetricsLog;
import bitnet.engine.util.OutputDir;
import bitnet.io.DType;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CancellationException;

/** The training work behind {@link BitnetModel}'s training methods (package-private). */
final class Training {
    private Training() {}

    static List<NamedTensor> parameters(Model m) {
        List<NamedTensor> out = new ArrayList<>();
        for (HfTensor t : m.tensors().values()) {
            out.add(new NamedTensor(t.name(), t.shape(), m.getHf(t)));
        }
        return out;
    }

    static Gradients gradients(Model m, int[] ids, int B, int T) {
        m.zeroGrad(); // loss(..., true) accumulates
        double loss = m.loss(ids, Model.shiftedTargets(ids, B, T), B, T, true);
        List<NamedTensor> g = new ArrayList<>();
        for (HfTensor t : m.tensors().values()) {
            g.add(new NamedTensor(t.name(), t.shape(), m.gradHf(t)));
        }
        return new Gradients(loss, g);
    }

    static GradientFlowResult gradientFlow(Model m, int[] ids, int B, int T) {
        GradientFlow.Report r = GradientFlow.check(m, ids, B, T);
        return new GradientFlowResult(r.passed(), r.loss(), r.problems(), r.parameters());
    }

    static float[] trainSteps(Model m, int[] ids, int B, int T, int steps, StepSettings s, long[] stepNanos) {
        var os = new Optimizer.Settings(
                (float) s.lr(),
                (float) s.weightDecay(),
                (float) s.beta1(),
                (float) s.beta2(),
                (float) s.eps(),
                Grokfast.parse(s.grokfast()));
        FakeQuant fq = FakeQuants.of(s.qat());
        // on a pool of its own: QAT's parallel quantization never runs on the common ForkJoin pool
        return call(
                "train-steps", () -> "training", cancelled -> TrainSteps.run(m, ids, B, T, steps, os, fq, stepNanos));
    }

    /**
     * The usual estimate of a training step's FLOPs per token: 3x the forward's (backward costs
     * twice the forward), where the forward is 2 FLOPs per weight of every matrix product (the
     * LM head included, tied or not) plus causal attention's QKᵀ and P·V at (T+1)/2 keys on
     * average. Norms, activations and the optimizer are left out, as is usual.
     */
    static double trainFlopsPerToken(Model m, int T) {
        double weights = 0;
        boolean head = false;
        for (Param p : m.params()) {
            if (p.kind == Param.Kind.LINEAR || p.kind == Param.Kind.HEAD) {
                weights += (double) p.rows * p.cols;
                head |= p.kind == Param.Kind.HEAD;
            }
        }
        if (!head) { // tied: the embedding matrix is the head
            weights += (double) m.cfg.vocabSize() * m.cfg.hiddenSize();
        }
        double attn = 2.0 * 2.0 * m.cfg.numLayers() * m.cfg.numHeads() * m.cfg.headDim() * (T + 1) / 2.0;
        return 3.0 * (2.0 * weights + attn);
    }

    static FineTuneResult fineTune(
            Model m,
            Path hfDir,
            int[] trainIds,
            int[] evalIds,
            FineTuneSettings settings,
            FineTuneOutput out,
            ProgressListener listener) {
        FakeQuant fq = FakeQuants.of(settings.qat());
        var tc = settings.config();
        boolean resume = out != null && out.resume();
        ProgressListener l = listener == null ? ProgressListener.NONE : listener;
        // the output is checked and claimed before any training (OutputDir: never over an input)
        OutputDir od = out == null
                ? null
                : OutputDir.begin(out.dir(), out.overwrite(), out.resume(), out.inputs())
                        .resumable();
        try {
            FineTuneResult r = call("finetune", () -> "fine-tuning", cancelled -> {
                Path metricsFile = od == null ? null : od.dir().resolve("metrics.jsonl");
                try (MetricsLog log = new MetricsLog(metricsFile, resume)) {
                    log.observe(e -> {
                        if (cancelled.getAsBoolean()) {
                            throw new CancellationException("fine-tuning interrupted");
                        }
                        l.onProgress(new ProgressListener.Event(String.valueOf(e.get("event")), e));
                    });
                    Path ckpt = od == null ? null : od.dir().resolve("checkpoint");
                    Trainer t = new Trainer(m, fq, tc, trainIds, evalIds, log, ckpt);
                    double before = resume ? Double.NaN : t.evaluate().ppl();
                    Trainer.Result tr = t.run(resume);
                    double after = t.evaluate().ppl();
                    if (od != null) {
                        log.log(
                                "final",
                                "ppl_before",
                                before,
                                "ppl_after",
                                after,
                                "steps",
                                tr.steps(),
                                "tokens_per_s",
                                tr.tokensPerSecond());
                        // under QAT the output holds the weights the model was evaluated with: the quantized ones
                        HfWriter.write(
                                m,
                                hfDir,
                                od.dir(),
                                DType.F32,
                                t.qat() == null ? null : h -> quantizedOrLatent(m, h),
                                Map.of("format", "pt"));
                    }
                    if (t.qat() != null) {
                        t.qat().release();
                    }
                    return new FineTuneResult(
                            tr.steps(),
                            before,
                            after,
                            tr.tokensPerSecond(),
                            tr.seconds(),
                            tr.evalCurve(),
                            tr.restarts());
                }
            });
            if (od != null) {
                OutputDir.deleteTree(od.dir().resolve("checkpoint"));
                od.commit();
            }
            return r;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } finally {
            if (od != null) {
                od.close();
            }
        }
    }

    private static float[] quantizedOrLatent(Model m, HfTensor t) {
        if (t.parts().get(0).quantized == null) {
            return m.getHf(t);
        }
        return t.gather(m.k, p -> p.quantized);
    }

    /** Runs work on a pool of its own (Workers) and unwraps what it threw; what names the work in errors. */
    static <T> T call(String name, java.util.function.Supplier<String> what, Workers.Work<T> work) {
        try {
            return Workers.run(name, 0, work);
        } catch (Workers.Failure f) {
            Throwable t = f.getCause();
            if (t instanceof OutOfMemoryError oom) {
                throw new OutOfMemoryException(what.get(), oom);
            }
            if (t instanceof RuntimeException re) {
                throw re;
            }
            if (t instanceof Error err) {
                throw err;
            }
            if (t instanceof IOException io) {
                throw new UncheckedIOException(io);
            }
            throw new IllegalStateException(t);
        }
    }
}
