package bitnet.engine.compress;

import bitnet.engine.model.HfTensor;
import bitnet.engine.model.Model;
import bitnet.engine.model.Models;
import bitnet.engine.quant.QuantResult;
import bitnet.engine.quant.Quantizer;
import bitnet.engine.train.Qat;
import bitnet.engine.util.OutputDir;
import bitnet.io.BadInputException;
import bitnet.io.Checkpoint;
import bitnet.io.DType;
import bitnet.io.ModelConfig;
import bitnet.io.SafetensorsFile;
import bitnet.io.StreamingSafetensorsWriter;
import bitnet.io.StreamingSafetensorsWriter.Spec;
import bitnet.io.TensorData;
import bitnet.io.packed.PackedFileWriter;
import bitnet.io.packed.PackedModelFormat;
import bitnet.kernels.Backends;
import bitnet.kernels.Kernels;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.logging.Logger;

/**
 * Compression without fine-tuning for models larger than memory: the checkpoint (single file or
 * sharded safetensors) is read one tensor at a time with positional reads (never mapped whole, so
 * resident memory stays at the largest tensor's working set, whatever the model size), 2-D linear
 * weights are quantized, and both outputs are written as they go: the packed ternary file (one file,
 * header first from the shapes known up front, by {@link StreamingSafetensorsWriter}) and the FP16
 * model (one output shard per input shard, plus model.safetensors.index.json when sharded).
 *
 * <p>Roles come from the {@link RolePlan} that {@link Pipeline} uses too: {@link Qat#isTarget} tensors of the model the config
 * describes, minus preserve_patterns and tensors under preserve_min_elements. Embeddings and lm_head go
 * to the packed file as F16 or int8 (embedding_precision), other tensors as stored. It measures no
 * perplexity (that needs the whole model in memory) and does not fine-tune; pytorch_model.bin input
 * is not streamed (use the in-memory pipeline).
 */
public final class StreamingCompressor {
    private static final Logger LOG = Logger.getLogger("bitnet");
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    private static final List<String> COPY = List.of(
            "tokenizer.json",
            "tokenizer_config.json",
            "special_tokens_map.json",
            "generation_config.json",
            "tokenizer.model",
            "vocab.json",
            "merges.txt");

    private StreamingCompressor() {}

    /** One input tensor; role null for a tensor that is not part of the model (left out). */
    private record In(
            Path shard, String name, DType dtype, long[] shape, long fileOffset, long bytes, RolePlan.Role role) {
        int rows() {
            return Math.toIntExact(shape[0]);
        }

        int cols() {
            return Math.toIntExact(shape[1]);
        }
    }

    /**
     * Runs the streaming compression (fine-tuning off); the results object is shaped like
     * {@link Pipeline#run}'s (success, error, metrics, output_paths, timings_s). k is accepted for
     * symmetry with Pipeline; quantization runs on the heap.
     */
    public static Map<String, Object> run(CompressConfig c, Kernels k, boolean overwrite) throws IOException {
        return run(c, k, overwrite, e -> {});
    }

    /**
     * As {@link #run(CompressConfig, Kernels, boolean)}, calling listener with a "tensor" event
     * (name, index, total) after each tensor; a listener that throws stops the run uncommitted.
     */
    public static Map<String, Object> run(
            CompressConfig c, Kernels k, boolean overwrite, java.util.function.Consumer<Map<String, Object>> listener)
            throws IOException {
        long start = System.nanoTime();
        Map<String, Double> timings = new LinkedHashMap<>();
        Path modelDir = Path.of(c.model_path);
        if (!Files.isDirectory(modelDir)) {
            throw new BadInputException(modelDir, "model directory not found");
        }
        bitnet.engine.util.OutputSafety.checkDirectory(Path.of(c.output_path), overwrite, c.inputPaths());
        ModelConfig cfg = ModelConfig.load(modelDir.resolve("config.json"));
        List<Path> shards = shards(modelDir);
        boolean sharded =
                shards.size() > 1 || !shards.get(0).getFileName().toString().equals(Checkpoint.SAFETENSORS);

        // Which HF tensors the model has, and their kinds: from the model structure (no weights allocated).
        Map<String, HfTensor> known;
        long params = 0;
        try (Model m = Models.create(cfg, Backends.select("scalar", 1).kernels())) {
            known = new LinkedHashMap<>(m.tensors());
            for (HfTensor t : known.values()) {
                params += t.numel();
            }
        }
        String category = c.adaptToSize(params);
        Quantizer qz = Quantizer.parse(c.quantizerSpec());

        // Pass 1: headers only (the mapping is touched only where the header lies).
        List<List<In>> plan = new ArrayList<>();
        Map<String, DType> dtypes = new LinkedHashMap<>();
        List<String> unknown = new ArrayList<>();
        for (Path shard : shards) {
            List<In> ins = new ArrayList<>();
            try (Arena arena = Arena.ofConfined();
                    FileChannel ch = FileChannel.open(shard, StandardOpenOption.READ)) {
                MemorySegment all = ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), arena);
                SafetensorsFile f = SafetensorsFile.parse(shard, all);
                for (TensorData t : f.tensors().values()) {
                    HfTensor h = known.get(t.name());
                    if (h == null) {
                        unknown.add(t.name());
                    } else if (!java.util.Arrays.equals(h.shape(), t.shape())) {
                        throw new BadInputException(
                                shard,
                                "tensor '" + t.name() + "' has shape " + java.util.Arrays.toString(t.shape())
                                        + " but config.json implies " + java.util.Arrays.toString(h.shape()));
                    }
                    if (h != null && !t.dtype().isFloat()) {
                        throw new BadInputException(
                                shard, "tensor '" + t.name() + "' is " + t.dtype() + ", not a float type");
                    }
                    if (h != null) {
                        dtypes.put(t.name(), t.dtype());
                    }
                    ins.add(new In(
                            shard,
                            t.name(),
                            t.dtype(),
                            t.shape(),
                            t.data().address() - all.address(),
                            t.data().byteSize(),
                            null));
                }
            }
            plan.add(ins);
        }
        for (HfTensor h : known.values()) {
            if (plan.stream().flatMap(List::stream).noneMatch(i -> i.name().equals(h.name()))) {
                throw new BadInputException(modelDir, "tensor '" + h.name() + "' is missing from the checkpoint");
            }
        }
        // the roles: decided by the plan the in-memory path uses too
        RolePlan roles = RolePlan.of(c, known.values(), dtypes::get, qz);
        for (List<In> ins : plan) {
            ins.replaceAll(in -> roles.get(in.name()) == null
                    ? in
                    : new In(
                            in.shard(),
                            in.name(),
                            in.dtype(),
                            in.shape(),
                            in.fileOffset(),
                            in.bytes(),
                            roles.get(in.name()).role()));
        }
        if (!unknown.isEmpty()) {
            LOG.info("not part of the model, left out of the outputs: " + unknown);
        }
        timings.put("plan", (System.nanoTime() - start) / 1e9);

        Map<String, Object> results = new LinkedHashMap<>();
        long packedBytes;
        long bytesRead = 0;
        int quantized = 0, preserved = 0, done = 0;
        long zeros = 0, codes = 0;
        double tQuant = 0, tRead = 0;
        try (OutputDir out = OutputDir.begin(Path.of(c.output_path), overwrite, false, c.inputPaths())) {
            Path packedFile = out.dir().resolve(PackedModelFormat.FILE_NAME);
            Path fp16Dir = out.dir().resolve(PackedLoader.FP16_DIR);
            Files.createDirectories(fp16Dir);
            Map<String, String> weightMap = new LinkedHashMap<>();
            long fp16Total = 0;
            try (PackedFileWriter packed = roles.open(packedFile, c)) {
                for (List<In> ins : plan) {
                    String outName = sharded
                            ? ins.isEmpty()
                                    ? null
                                    : ins.get(0).shard().getFileName().toString()
                            : Checkpoint.SAFETENSORS;
                    List<Spec> fpSpecs = new ArrayList<>();
                    for (In in : ins) {
                        if (in.role() != null) {
                            fpSpecs.add(new Spec(in.name(), DType.F16, in.shape()));
                            weightMap.put(in.name(), outName);
                            fp16Total += 2 * (in.bytes() / in.dtype().size());
                        }
                    }
                    if (outName == null) {
                        continue;
                    }
                    try (FileChannel src = FileChannel.open(ins.get(0).shard(), StandardOpenOption.READ);
                            StreamingSafetensorsWriter fp16 = new StreamingSafetensorsWriter(
                                    fp16Dir.resolve(outName), fpSpecs, Map.of("format", "pt"))) {
                        for (In in : ins) {
                            if (in.role() == null) {
                                continue;
                            }
                            long r0 = System.nanoTime();
                            byte[] raw = read(src, in);
                            bytesRead += raw.length;
                            TensorData td = TensorData.ofBytes(in.name(), in.dtype(), raw, in.shape());
                            float[] w = td.toFloatArray();
                            long bad = countNonFinite(w);
                            if (bad > 0 && !c.allow_nonfinite) {
                                throw new BadInputException(
                                        in.shard(),
                                        "weights with NaN/Inf values: " + in.name() + " (" + bad + " of " + w.length
                                                + ") (set allow_nonfinite to compress anyway)");
                            }
                            tRead += (System.nanoTime() - r0) / 1e9;
                            long q0 = System.nanoTime();
                            switch (roles.get(in.name()).storage()) {
                                case TERNARY -> {
                                    QuantResult q = qz.quantize(in.name(), w, in.rows(), in.cols());
                                    packed.ternary(in.name(), q.q(), q.scale());
                                    w = q.dequantize();
                                    quantized++;
                                    for (byte b : q.q()) {
                                        zeros += b == 0 ? 1 : 0;
                                    }
                                    codes += q.q().length;
                                }
                                case INT8 -> {
                                    // the FP16 output holds the values the int8 codes stand for, as the in-memory
                                    // path's
                                    RolePlan.Int8 q = RolePlan.int8(w, in.rows(), in.cols());
                                    packed.int8(in.name(), q.q(), q.scale());
                                    w = q.dequantize(in.cols());
                                    preserved++;
                                }
                                case INT4 -> {
                                    RolePlan.Int4 q = RolePlan.int4(w, in.rows(), in.cols());
                                    packed.int4(in.name(), q.codes(), q.scale16());
                                    w = q.dequantize(in.rows(), in.cols());
                                    preserved++;
                                }
                                case F16 -> {
                                    packed.f16(in.name(), w);
                                    preserved++;
                                }
                                case AS_STORED -> {
                                    packed.plain(in.name(), in.dtype() == DType.F64 ? PackedFileWriter.f32(w) : raw);
                                    preserved++;
                                }
                            }
                            fp16.write(in.name(), PackedFileWriter.f16(w));
                            tQuant += (System.nanoTime() - q0) / 1e9;
                            listener.accept(Map.of(
                                    "event",
                                    "tensor",
                                    "name",
                                    in.name(),
                                    "index",
                                    ++done,
                                    "total",
                                    roles.entries().size()));
                        }
                        fp16.finish();
                    }
                }
                packed.finish();
                packedBytes = packed.fileSize();
            }
            writeFp16Config(cfg, modelDir, fp16Dir, sharded, weightMap, fp16Total);
            timings.put("read_convert", tRead);
            timings.put("quantize_write", tQuant);
            timings.put("total", (System.nanoTime() - start) / 1e9);

            double ratio = 4.0 * params / packedBytes;
            List<String> failures = new ArrayList<>();
            if (ratio < c.target_compression_ratio) {
                failures.add(String.format(
                        Locale.ROOT,
                        "compression ratio %.2f below the target %.1f",
                        ratio,
                        c.target_compression_ratio));
            }
            double secs = timings.get("total");
            Map<String, Object> metrics = new LinkedHashMap<>();
            metrics.put("compression_ratio", ratio);
            metrics.put("sparsity_ratio", codes == 0 ? 0 : zeros / (double) codes);
            metrics.put("layers_quantized", quantized);
            metrics.put("layers_preserved", preserved);
            metrics.put("parameters", params);
            metrics.put("size_category", category);
            metrics.put("original_fp32_bytes", 4 * params);
            metrics.put("bytes_read", bytesRead);
            metrics.put("packed_bytes", packedBytes);
            metrics.put("input_shards", shards.size());
            metrics.put("read_gb_per_s", bytesRead / 1e9 / secs);
            metrics.put("streaming", true);
            metrics.put("fine_tuning", "off (streaming mode)");
            metrics.put("ppl_measured", false);
            Map<String, Object> paths = new LinkedHashMap<>();
            Path fin = out.finalPath();
            paths.put("output_dir", fin.toString());
            paths.put(
                    "quantized_model", fin.resolve(PackedModelFormat.FILE_NAME).toString());
            paths.put("dequantized_fp16", fin.resolve(PackedLoader.FP16_DIR).toString());
            paths.put("metadata", fin.resolve("compression_metadata.json").toString());
            if (c.gguf) {
                bitnet.engine.export.GgufExporter.addToCompressOutput(out.dir(), fin, 4 * params, metrics, paths);
            }
            results.put("success", failures.isEmpty());
            results.put("error", failures.isEmpty() ? null : String.join("; ", failures));
            results.put("metrics", metrics);
            results.put("output_paths", paths);
            results.put("timings_s", timings);
            results.put(
                    "quality_gates",
                    Map.of("target_compression_ratio", c.target_compression_ratio, "failures", failures));
            Map<String, Object> meta2 = new LinkedHashMap<>();
            meta2.put(
                    "method",
                    "BitNet b1.58 ternary {-1,0,+1} with scales, streaming post-training quantization (no fine-tuning)");
            meta2.put("quantizer", qz.name());
            meta2.put("packing", c.packing);
            meta2.put("config", c.toMap());
            meta2.put(
                    "model",
                    Map.of("path", modelDir.toString(), "architecture", cfg.architecture(), "parameters", params));
            meta2.put("results", results);
            Files.writeString(
                    out.dir().resolve("compression_metadata.json"),
                    bitnet.engine.cli.Outputs.json().writeValueAsString(meta2));
            out.commit();
        }
        LOG.info(String.format(
                Locale.ROOT,
                "streaming compression: %,d parameters, %d quantized, %.1f s, %.3f GB/s read",
                params,
                quantized,
                timings.get("total"),
                bytesRead / 1e9 / timings.get("total")));
        return results;
    }

    /** The weight files in order: model.safetensors, or the shards of model.safetensors.index.json. */
    static List<Path> shards(Path dir) {
        Path single = dir.resolve(Checkpoint.SAFETENSORS);
        if (Files.isRegularFile(single)) {
            return List.of(single);
        }
        Path index = dir.resolve(Checkpoint.SAFETENSORS_INDEX);
        if (!Files.isRegularFile(index)) {
            throw new BadInputException(
                    dir,
                    "streaming compression reads safetensors only (model.safetensors or " + Checkpoint.SAFETENSORS_INDEX
                            + ")");
        }
        return Checkpoint.shardFiles(index);
    }

    private static byte[] read(FileChannel ch, In in) throws IOException {
        if (in.bytes() > Integer.MAX_VALUE - 16) {
            throw new BadInputException(
                    in.shard(), "tensor '" + in.name() + "' is over 2 GB, beyond the streaming reader");
        }
        byte[] b = new byte[(int) in.bytes()];
        ByteBuffer bb = ByteBuffer.wrap(b);
        long pos = in.fileOffset();
        while (bb.hasRemaining()) {
            int n = ch.read(bb, pos);
            if (n < 0) {
                throw new BadInputException(in.shard(), "truncated while reading '" + in.name() + "'");
            }
            pos += n;
        }
        return b;
    }

    private static long countNonFinite(float[] w) {
        long n = 0;
        for (float v : w) {
            if (!Float.isFinite(v)) {
                n++;
            }
        }
        return n;
    }

    private static void writeFp16Config(
            ModelConfig cfg, Path src, Path dir, boolean sharded, Map<String, String> weightMap, long totalSize)
            throws IOException {
        ObjectNode raw = (ObjectNode) cfg.raw().deepCopy();
        raw.put("torch_dtype", "float16");
        raw.put("dtype", "float16");
        Files.writeString(dir.resolve("config.json"), JSON.writeValueAsString(raw));
        if (sharded) {
            ObjectNode idx = JSON.createObjectNode();
            idx.putObject("metadata").put("total_size", totalSize);
            ObjectNode wm = idx.putObject("weight_map");
            weightMap.forEach(wm::put);
            Files.writeString(dir.resolve(Checkpoint.SAFETENSORS_INDEX), JSON.writeValueAsString(idx));
        }
        for (String f : COPY) {
            Path s = src.resolve(f);
            if (Files.isRegularFile(s)) {
                Files.copy(s, dir.resolve(f), StandardCopyOption.REPLACE_EXISTING);
            }
        }
    }
}
