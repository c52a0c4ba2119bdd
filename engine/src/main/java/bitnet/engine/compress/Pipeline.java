package bitnet.engine.compress;

import bitnet.engine.data.TextData;
import bitnet.engine.eval.Perplexity;
import bitnet.engine.model.HfTensor;
import bitnet.engine.model.HfWriter;
import bitnet.engine.model.Model;
import bitnet.engine.model.Models;
import bitnet.engine.quant.LayerStats;
import bitnet.engine.quant.QuantResult;
import bitnet.engine.quant.Quantizer;
import bitnet.engine.train.Distill;
import bitnet.engine.train.Distiller;
import bitnet.engine.train.FakeQuant;
import bitnet.engine.train.GradientFlow;
import bitnet.engine.train.Grokfast;
import bitnet.engine.train.LearnedScales;
import bitnet.engine.train.Qat;
import bitnet.engine.train.TrainConfig;
import bitnet.engine.train.Trainer;
import bitnet.engine.util.MetricsLog;
import bitnet.engine.util.OutputDir;
import bitnet.io.BadInputException;
import bitnet.io.Checkpoint;
import bitnet.io.DType;
import bitnet.io.Packing;
import bitnet.io.TensorData;
import bitnet.io.packed.PackedFileWriter;
import bitnet.io.packed.PackedModelFormat;
import bitnet.io.tokenizer.Tokenizer;
import bitnet.kernels.Kernels;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.logging.Logger;

/**
 * The compression pipeline: load, size-adapt, measure, quantize, measure, fine-tune (QAT with
 * STE + Grokfast + AdamW) when the degradation exceeds the threshold, save both outputs
 * atomically, check gradient flow through the FP16 output, apply the quality gates. Every
 * figure it reports is measured on the files it wrote.
 */
public final class Pipeline {
    private static final Logger LOG = Logger.getLogger("bitnet");

    private final CompressConfig c;
    private final Kernels k;
    private final boolean overwrite;
    private final Map<String, Double> timings = new LinkedHashMap<>();
    private Map<String, Object> distillStats;
    private long t0 = System.nanoTime();
    private Consumer<Map<String, Object>> listener = e -> {};
    private List<Map<String, Object>> layers = List.of();

    public Pipeline(CompressConfig c, Kernels k, boolean overwrite) {
        this.c = c;
        this.k = k;
        this.overwrite = overwrite;
    }

    private void lap(String name) {
        long now = System.nanoTime();
        timings.put(name, (now - t0) / 1e9);
        t0 = now;
        listener.accept(Map.of("event", "stage_done", "stage", name));
    }

    /**
     * Receives every metrics event and a "stage_done" event after each stage; a listener that
     * throws (the API's cancellation) stops the run, and the output is never committed.
     */
    public Pipeline listener(Consumer<Map<String, Object>> l) {
        this.listener = l;
        return this;
    }

    /** The per-layer records of the last {@link #run} (as in compression_metadata.json). */
    public List<Map<String, Object>> layers() {
        return layers;
    }

    /** Whether this config takes the streaming path (fine-tuning off, and large weights or asked for). */
    public static boolean streams(CompressConfig c) {
        if (c.enable_fine_tuning || c.streaming.equals("off")) {
            return false;
        }
        if (c.streaming.equals("on")) {
            return true;
        }
        Path dir = Path.of(c.model_path);
        if (Files.exists(dir.resolve(bitnet.io.Checkpoint.TORCH_BIN))
                && !Files.exists(dir.resolve(bitnet.io.Checkpoint.SAFETENSORS))
                && !Files.exists(dir.resolve(bitnet.io.Checkpoint.SAFETENSORS_INDEX))) {
            return false; // pytorch_model.bin is not streamed
        }
        long bytes = 0;
        try (var s = Files.list(dir)) {
            for (Path f : s.filter(f -> f.getFileName().toString().endsWith(".safetensors"))
                    .toList()) {
                bytes += Files.size(f);
            }
        } catch (IOException e) {
            return false;
        }
        return bytes > Runtime.getRuntime().maxMemory() / 4;
    }

    /** Runs everything; returns the results object (success false when a gate failed). */
    public Map<String, Object> run() throws IOException {
        long start = System.nanoTime();
        Path modelDir = Path.of(c.model_path);
        if (!Files.isDirectory(modelDir)) {
            throw new BadInputException(modelDir, "model directory not found");
        }
        bitnet.engine.util.OutputSafety.checkDirectory(Path.of(c.output_path), overwrite, c.inputPaths());
        Quantizer quantizer = Quantizer.parse(c.quantizerSpec());
        // data first: bad data must fail before anything is written
        TextData.Text calib = TextData.load(c.calibration_dataset);
        String evalText = c.eval_data == null ? null : TextData.read(Path.of(c.eval_data));
        Map<String, Object> results = new LinkedHashMap<>();
        try (OutputDir out = OutputDir.begin(Path.of(c.output_path), overwrite, false, c.inputPaths());
                Arena arena = Arena.ofShared()) {
            Checkpoint ckpt = Checkpoint.open(modelDir, arena);
            Tokenizer tok = Tokenizer.load(modelDir.resolve("tokenizer.json"));
            NonFinite.check(ckpt, c.allow_nonfinite);
            Model m = Models.load(ckpt, k, Model.Mode.TRAIN);
            long params = m.parameterCount();
            String category = c.adaptToSize(params);
            if (c.quantizer.equalsIgnoreCase("seed")) {
                quantizer = Quantizer.parse(c.quantizerSpec());
            }
            LOG.info(String.format(
                    Locale.ROOT,
                    "%s: %,d parameters (%s): quantizer %s, target %.1fx",
                    modelDir,
                    params,
                    category,
                    quantizer.name(),
                    c.target_compression_ratio));
            // token streams: eval is held out from fine-tuning
            int[] calibIds = tok.encode(calib.text());
            int[] evalIds;
            if (evalText != null) {
                evalIds = tok.encode(evalText);
            } else {
                int cut = (int) (calibIds.length * 0.98);
                evalIds = Arrays.copyOfRange(calibIds, cut, calibIds.length);
                calibIds = Arrays.copyOfRange(calibIds, 0, cut);
                LOG.info("no eval data: holding out the last 2% of the calibration text for evaluation");
            }
            int L = Math.min(c.eval_sequence_length, m.cfg.maxPositions() - 1);
            if (Perplexity.windowsFor(evalIds.length, L, c.eval_windows) == 0) {
                throw new BadInputException(
                        c.eval_data == null ? calib.source() : c.eval_data,
                        "evaluation text has " + evalIds.length + " tokens, fewer than one window of " + (L + 1),
                        null);
            }
            lap("load");
            MetricsLog metrics = new MetricsLog(c.write_metrics ? out.dir().resolve("metrics.jsonl") : null, false)
                    .observe(listener);
            metrics.log(
                    "start",
                    "model",
                    modelDir.toString(),
                    "parameters",
                    params,
                    "category",
                    category,
                    "calibration_tokens",
                    calibIds.length,
                    "eval_tokens",
                    evalIds.length);

            Perplexity.Result pOrig = ppl(m, evalIds, L, "original");
            metrics.log("eval", "stage", "original", "ppl", pOrig.ppl());
            lap("eval_original");

            // quantize: the role of every tensor is decided once, by the plan the streaming path uses too
            Quantizer qz = quantizer;
            Function<List<String>, RolePlan> planWith = int8Layers -> {
                if (int8Layers != null) {
                    c.int8_patterns = new ArrayList<>(int8Layers);
                }
                return RolePlan.of(
                        c, m.tensors().values(), n -> ckpt.has(n) ? ckpt.get(n).dtype() : DType.F32, qz);
            };
            if (c.sensitive_int8.equals("auto") && c.enable_fine_tuning && c.int8_patterns.isEmpty()) {
                planWith.apply(SensitiveLayers.choose(c, m, planWith, qz, evalIds, L, 4L * params, out.dir(), metrics));
                lap("sensitivity");
            }
            if (c.embedding_precision.equals("auto")) {
                c.embedding_precision = "int8"; // nothing measured the alternative (SensitiveLayers did not run)
            }
            RolePlan plan = planWith.apply(null);
            List<HfTensor> targets = plan.targets();
            // ternary targets, and int4 embeddings as the packed file will hold them (the forward
            // and STE see those values while the latents train)
            FakeQuant fq = new FakeQuant() {
                @Override
                public float[] apply(String name, float[] w, int r, int cc) {
                    if (plan.isTarget(name)) {
                        return qz.quantize(name, w, r, cc).dequantize();
                    }
                    RolePlan.Entry e = plan.get(name);
                    return e != null && e.role() == RolePlan.Role.INT4
                            ? RolePlan.int4(w, r, cc).dequantize(r, cc)
                            : w;
                }

                @Override
                public boolean alsoQuantizes(HfTensor t) {
                    RolePlan.Entry e = plan.get(t.name());
                    return e != null && e.role() == RolePlan.Role.INT4;
                }
            };
            Qat active = new Qat(m, fq);
            Map<String, QuantResult> quant = quantizeAll(m, targets, qz);
            List<LayerStats> statsBefore = stats(m, targets, quant);
            active.quantize();
            Perplexity.Result pQuant = ppl(m, evalIds, L, "quantized");
            metrics.log("eval", "stage", "quantized", "ppl", pQuant.ppl());
            lap("quantize");

            double degQ = degradation(pOrig, pQuant);
            Trainer.Result ft = null;
            if (c.enable_fine_tuning && degQ > c.fine_tune_threshold && !targets.isEmpty()) {
                TrainConfig tc = trainConfig(calibIds.length);
                LOG.info(String.format(
                        Locale.ROOT,
                        "degradation %.1f%% > %.1f%%: fine-tuning %d steps of %dx%d tokens (lr %.1e, grokfast %s)",
                        100 * degQ,
                        100 * c.fine_tune_threshold,
                        tc.steps(),
                        tc.batchSize(),
                        tc.seqLen(),
                        tc.lr(),
                        tc.grokfast()));
                active.release();
                Map<HfTensor, float[]> before = new LinkedHashMap<>();
                for (HfTensor t : m.tensors().values()) {
                    before.put(t, m.getHf(t));
                }
                // learned per-row scales (LSQ) when scale_lr_ratio > 0, else the quantizer's scales each step
                LearnedScales learned =
                        c.scale_lr_ratio > 0 ? new LearnedScales(qz, plan::isTarget, (float) c.scale_lr_ratio) : null;
                Trainer tr = new Trainer(m, learned != null ? learned : fq, tc, calibIds, evalIds, metrics, null);
                tr.evalSeqLen(L); // the curve is measured on the same windows as every other perplexity
                double budget = c.timeBudgetSeconds();
                if (budget > 0) {
                    tr.timeBudget(budget);
                }
                Distill dist = c.distillSettings();
                Model teacher = null;
                if (dist.on()) {
                    teacher = Models.load(ckpt, k, Model.Mode.INFER); // weights as stored (e.g. BF16, mapped): no copy
                    tr.distill(new Distiller(teacher, dist));
                    LOG.info("distilling from the original model: " + dist);
                }
                ft = tr.run(false);
                if (teacher != null) {
                    distillStats = tr.distillStats();
                    teacher.close();
                }
                Perplexity.Result pTuned = ppl(m, evalIds, L, "after fine-tuning");
                tr.qat().release();
                if (pTuned.meanNll() > pQuant.meanNll()) {
                    // never ship a model that fine-tuning made worse: keep the quantized starting point
                    LOG.warning(String.format(
                            Locale.ROOT,
                            "fine-tuning made held-out perplexity worse (%.3f > %.3f): keeping the weights from before it",
                            pTuned.ppl(),
                            pQuant.ppl()));
                    metrics.log("fine_tune_reverted", "ppl_after", pTuned.ppl(), "ppl_before", pQuant.ppl());
                    before.forEach(m::setHf);
                    learned = null;
                }
                quant = quantizeAll(m, targets, qz);
                if (learned != null) { // pack what the forward used: the learned scales and their codes
                    for (HfTensor t : targets) {
                        quant.put(t.name(), learned.quantize(t.name(), m.getHf(t), t.storedRows(), t.storedCols()));
                    }
                }
            } else {
                LOG.info(String.format(
                        Locale.ROOT,
                        "degradation %.1f%%: no fine-tuning (%s)",
                        100 * degQ,
                        c.enable_fine_tuning ? "below fine_tune_threshold" : "disabled"));
            }
            lap("fine_tune");
            List<LayerStats> statsFinal = stats(m, targets, quant);
            Rounded rounded = roundEmbeddings(m, plan);

            // save
            Path packedFile = out.dir().resolve(PackedModelFormat.FILE_NAME);
            Path fp16Dir = out.dir().resolve(PackedLoader.FP16_DIR);
            Map<String, QuantResult> finalQuant = quant;
            writePacked(m, plan, finalQuant, rounded, packedFile);
            HfWriter.write(
                    m,
                    modelDir,
                    fp16Dir,
                    DType.F16,
                    t -> finalQuant.containsKey(t.name())
                            ? finalQuant.get(t.name()).dequantize()
                            : m.getHf(t),
                    Map.of("format", "pt"));
            lap("save");
            m.close();

            // measure the outputs themselves
            Perplexity.Result pFinal;
            Perplexity.Result pPacked;
            GradientFlow.Report flow;
            try (Arena a2 = Arena.ofShared()) {
                try (Model fp16 = Models.load(Checkpoint.open(fp16Dir, a2), k, Model.Mode.INFER)) {
                    pFinal = ppl(fp16, evalIds, L, "final (FP16 output)");
                }
                metrics.log("eval", "stage", "final", "ppl", pFinal.ppl());
                try (Model packed = PackedLoader.load(out.dir(), k, a2)) {
                    pPacked = ppl(packed, evalIds, L, "packed ternary output");
                }
                metrics.log("eval", "stage", "packed", "ppl", pPacked.ppl());
                lap("eval_outputs");
                try (Model fp16t = Models.load(Checkpoint.open(fp16Dir, a2), k, Model.Mode.TRAIN)) {
                    int T = Math.min(L, 128);
                    int B = Math.max(1, Math.min(4, (evalIds.length - 1) / T));
                    flow = GradientFlow.check(fp16t, Arrays.copyOf(evalIds, B * T), B, T);
                }
                metrics.log("gradient_flow", "passed", flow.passed(), "problems", flow.problems());
                lap("gradient_flow");
            }

            // sizes and gates
            long packedBytes = Files.size(packedFile);
            long fp32Bytes = 4L * params;
            long storedBytes = storedBytes(ckpt, m);
            double ratio = fp32Bytes / (double) packedBytes;
            double degFinal = degradation(pOrig, pFinal);
            List<String> failures = new ArrayList<>();
            if (ratio < c.target_compression_ratio) {
                failures.add(String.format(
                        Locale.ROOT,
                        "compression ratio %.2f below the target %.1f",
                        ratio,
                        c.target_compression_ratio));
            }
            if (degFinal > c.max_accuracy_drop) {
                failures.add(String.format(
                        Locale.ROOT,
                        "degradation %.1f%% above max_accuracy_drop %.1f%%",
                        100 * degFinal,
                        100 * c.max_accuracy_drop));
            }
            if (!flow.passed()) {
                failures.add("gradient flow check failed: " + String.join("; ", flow.problems()));
            }
            timings.put("total", (System.nanoTime() - start) / 1e9);

            Map<String, Object> metricsOut = new LinkedHashMap<>();
            metricsOut.put("compression_ratio", ratio);
            metricsOut.put("compression_ratio_vs_stored", storedBytes / (double) packedBytes);
            metricsOut.put("sparsity_ratio", sparsity(quant));
            metricsOut.put("ppl_original", pOrig.ppl());
            metricsOut.put("ppl_quantized", pQuant.ppl());
            metricsOut.put("ppl_final", pFinal.ppl());
            metricsOut.put("ppl_packed", pPacked.ppl());
            metricsOut.put("degradation_quantized", degQ);
            metricsOut.put("degradation_final", degFinal);
            metricsOut.put("ppl_ratio_final", pFinal.ppl() / pOrig.ppl());
            metricsOut.put("layers_quantized", targets.size());
            metricsOut.put("layers_preserved", m.tensors().size() - targets.size());
            metricsOut.put("parameters", params);
            metricsOut.put("size_category", category);
            metricsOut.put("original_fp32_bytes", fp32Bytes);
            metricsOut.put("original_stored_bytes", storedBytes);
            metricsOut.put("packed_bytes", packedBytes);
            metricsOut.put("eval_tokens", pOrig.tokens());
            metricsOut.put("eval_windows", pOrig.windows());
            if (ft != null) {
                metricsOut.put("fine_tune_steps", ft.steps());
                metricsOut.put("fine_tune_tokens_per_s", ft.tokensPerSecond());
                metricsOut.put("fine_tune_restarts", ft.restarts());
                metricsOut.put("fine_tune_seconds", ft.seconds());
            }
            Map<String, Object> paths = new LinkedHashMap<>();
            Path fin = out.finalPath();
            paths.put("output_dir", fin.toString());
            paths.put(
                    "quantized_model", fin.resolve(PackedModelFormat.FILE_NAME).toString());
            paths.put("dequantized_fp16", fin.resolve(PackedLoader.FP16_DIR).toString());
            paths.put("metadata", fin.resolve("compression_metadata.json").toString());
            if (c.write_metrics) {
                paths.put("metrics", fin.resolve("metrics.jsonl").toString());
            }
            if (c.write_report) {
                paths.put("report", fin.resolve("report.html").toString());
            }
            if (c.gguf) {
                bitnet.engine.export.GgufExporter.addToCompressOutput(out.dir(), fin, fp32Bytes, metricsOut, paths);
            }
            results.put("success", failures.isEmpty());
            results.put("error", failures.isEmpty() ? null : String.join("; ", failures));
            results.put("metrics", metricsOut);
            results.put("gradient_flow", flow.toMap());
            results.put("output_paths", paths);
            results.put("timings_s", timings);
            results.put(
                    "quality_gates",
                    Map.of(
                            "target_compression_ratio",
                            c.target_compression_ratio,
                            "max_accuracy_drop",
                            c.max_accuracy_drop,
                            "failures",
                            failures,
                            "degradation_definition",
                            "relative increase of held-out cross-entropy: ln(ppl)/ln(ppl_original) - 1"));

            Map<String, Object> meta = new LinkedHashMap<>();
            meta.put(
                    "method",
                    "BitNet b1.58 ternary {-1,0,+1} with scales, quantization-aware fine-tuning (STE, Grokfast, AdamW)");
            meta.put("quantizer", quantizer.name());
            meta.put("packing", c.packing);
            meta.put("bits_per_weight", Packing.parse(c.packing) == Packing.BASE3 ? 1.6 : 2.0);
            meta.put("config", c.toMap());
            meta.put(
                    "model",
                    Map.of("path", modelDir.toString(), "architecture", m.cfg.architecture(), "parameters", params));
            meta.put(
                    "calibration",
                    Map.of(
                            "source",
                            calib.source(),
                            "synthetic",
                            calib.synthetic(),
                            "tokens",
                            calibIds.length,
                            "eval_source",
                            c.eval_data == null ? "held-out 2% of calibration" : c.eval_data));
            layers = layerTable(statsBefore, statsFinal);
            meta.put("layers", layers);
            meta.put("results", results);
            meta.put("fine_tune_eval_curve", ft == null ? List.of() : ft.evalCurve());
            meta.put(
                    "fine_tune_eval_curve_note",
                    "held-out perplexity of the quantized weights during fine-tuning, on the same " + pOrig.windows()
                            + " windows of " + L
                            + " tokens as the headline figures (before int8 rounding of the embeddings and FP16 storage)");
            meta.put("distillation", distillMeta());
            meta.put(
                    "versions",
                    Map.of("bitnet", "0.1.0", "java", System.getProperty("java.version"), "backend", k.name()));
            Files.writeString(
                    out.dir().resolve("compression_metadata.json"),
                    bitnet.engine.cli.Outputs.json().writeValueAsString(meta));
            if (c.write_report) {
                Files.writeString(out.dir().resolve("report.html"), Report.html(meta, metrics.events()));
            }
            metrics.log("done", "success", failures.isEmpty());
            metrics.close();
            out.commit();
        }
        return results;
    }

    private Perplexity.Result ppl(Model m, int[] ids, int L, String what) {
        long s = System.nanoTime();
        Perplexity.Result r = Perplexity.compute(m, ids, L, c.eval_windows, 8);
        LOG.info(String.format(
                Locale.ROOT,
                "perplexity %s: %.3f (%d windows of %d, %.1fs)",
                what,
                r.ppl(),
                r.windows(),
                L,
                (System.nanoTime() - s) / 1e9));
        return r;
    }

    static double degradation(Perplexity.Result base, Perplexity.Result x) {
        return x.meanNll() / base.meanNll() - 1;
    }

    private TrainConfig trainConfig(int calibTokens) {
        int B = c.fine_tune_batch_size, T = c.fine_tune_sequence_length;
        int steps = c.fine_tune_steps > 0
                ? c.fine_tune_steps
                : (int) Math.ceil(c.fine_tune_epochs
                        * Math.min((double) calibTokens, (double) c.calibration_samples * c.calibration_sequence_length)
                        / (B * T));
        steps = Math.max(steps, 1);
        return new TrainConfig(
                steps,
                B,
                T,
                1,
                (float) c.fine_tune_lr,
                (float) c.fine_tune_min_lr_ratio,
                Math.min(c.warmup_steps, steps / 2),
                (float) c.max_grad_norm,
                (float) c.weight_decay,
                0.9f,
                0.95f,
                1e-8f,
                Grokfast.parse(c.grokfast),
                c.eval_every,
                c.eval_windows,
                1000,
                0,
                c.seed);
    }

    private Map<String, Object> distillMeta() {
        Distill d = c.distillSettings();
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("mode", c.distill);
        if (d.on()) {
            r.put("teacher", "the original model, frozen, weights as stored");
            r.put("temperature", d.temperature());
            r.put("alpha", d.alpha());
            if (d.attention()) {
                r.put("attention_weight", d.beta());
                r.put("layers", c.distill_layers);
            }
            r.put("chunk_sequences", d.chunk());
            r.put(
                    "loss",
                    d.attention()
                            ? "(1-alpha) CE + alpha T^2 KL(teacher||student logits at T) + attention_weight * MiniLM q/k/v relation KL"
                            : "(1-alpha) CE + alpha T^2 KL(teacher||student logits at T)");
            if (distillStats != null) {
                r.putAll(distillStats);
            }
        }
        return r;
    }

    private static Map<String, QuantResult> quantizeAll(Model m, List<HfTensor> targets, Quantizer q) {
        Map<String, QuantResult> res = new LinkedHashMap<>();
        for (HfTensor t : targets) {
            res.put(t.name(), q.quantize(t.name(), m.getHf(t), t.storedRows(), t.storedCols()));
        }
        return res;
    }

    private static List<LayerStats> stats(Model m, List<HfTensor> targets, Map<String, QuantResult> quant) {
        List<LayerStats> s = new ArrayList<>();
        for (HfTensor t : targets) {
            s.add(LayerStats.of(t.name(), m.getHf(t), quant.get(t.name())));
        }
        return s;
    }

    private static List<Map<String, Object>> layerTable(List<LayerStats> before, List<LayerStats> after) {
        List<Map<String, Object>> rows = new ArrayList<>();
        for (int i = 0; i < before.size(); i++) {
            LayerStats b = before.get(i), a = after.get(i);
            Map<String, Object> r = new LinkedHashMap<>();
            r.put("name", b.name());
            r.put("mse", b.mse());
            r.put("rel_error", b.relError());
            r.put("sparsity", b.sparsity());
            r.put("scale_min", b.scaleMin());
            r.put("scale_max", b.scaleMax());
            r.put("final_rel_error", a.relError());
            r.put("final_sparsity", a.sparsity());
            rows.add(r);
        }
        return rows;
    }

    /**
     * With int8 (or int4) embeddings the packed file holds those values: the FP16 output gets the
     * same values, so both outputs are the same model (within FP16 rounding). The codes are kept
     * for the packed file, so they are computed once.
     */
    private static Rounded roundEmbeddings(Model m, RolePlan plan) {
        Rounded out = new Rounded(new LinkedHashMap<>(), new LinkedHashMap<>());
        for (RolePlan.Entry e : plan.entries().values()) {
            HfTensor t = e.tensor();
            if (e.role() == RolePlan.Role.INT8) {
                RolePlan.Int8 q = RolePlan.int8(m.getHf(t), t.storedRows(), t.storedCols());
                m.setHf(t, q.dequantize(t.storedCols()));
                out.int8().put(t.name(), q);
            } else if (e.role() == RolePlan.Role.INT4) {
                RolePlan.Int4 q = RolePlan.int4(m.getHf(t), t.storedRows(), t.storedCols());
                m.setHf(t, q.dequantize(t.storedRows(), t.storedCols()));
                out.int4().put(t.name(), q);
            }
        }
        return out;
    }

    /** The int8 and int4 codes of the tensors the packed file stores that way. */
    private record Rounded(Map<String, RolePlan.Int8> int8, Map<String, RolePlan.Int4> int4) {}

    private static double sparsity(Map<String, QuantResult> quant) {
        long zeros = 0, n = 0;
        for (QuantResult r : quant.values()) {
            for (byte b : r.q()) {
                if (b == 0) {
                    zeros++;
                }
            }
            n += r.q().length;
        }
        return n == 0 ? 0 : zeros / (double) n;
    }

    private static long storedBytes(Checkpoint ck, Model m) {
        long b = 0;
        for (HfTensor t : m.tensors().values()) {
            b += ck.has(t.name()) ? ck.get(t.name()).data().byteSize() : 4 * t.numel();
        }
        return b;
    }

    /** Writes the packed file through the plan's writer, in the plan's declaration (the streaming path's too). */
    private void writePacked(Model m, RolePlan plan, Map<String, QuantResult> quant, Rounded rounded, Path file)
            throws IOException {
        try (PackedFileWriter w = plan.open(file, c)) {
            for (RolePlan.Entry e : plan.entries().values()) {
                String name = e.name();
                switch (e.storage()) {
                    case TERNARY ->
                        w.ternary(name, quant.get(name).q(), quant.get(name).scale());
                    case INT8 ->
                        w.int8(
                                name,
                                rounded.int8().get(name).q(),
                                rounded.int8().get(name).scale());
                    case INT4 ->
                        w.int4(
                                name,
                                rounded.int4().get(name).codes(),
                                rounded.int4().get(name).scale16());
                    case F16 -> w.f16(name, m.getHf(e.tensor()));
                    case AS_STORED -> {
                        TensorData v = TensorData.ofFloats(
                                name, m.getHf(e.tensor()), e.tensor().shape());
                        DType to = w.slotDtype(name);
                        w.plain(
                                name,
                                (to == DType.F32 ? v : v.convert(to, null))
                                        .data()
                                        .toArray(ValueLayout.JAVA_BYTE));
                    }
                }
            }
            w.finish();
        }
    }
}
