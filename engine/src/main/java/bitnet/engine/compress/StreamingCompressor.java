package bitnet.engine.compress;

import bitnet.engine.model.HfTensor;
import bitnet.engine.model.Model;
import bitnet.engine.model.Models;
import bitnet.engine.model.Param;
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
import bitnet.io.packed.Packing;
import bitnet.io.packed.PackedModelFormat;
import bitnet.io.packed.TernaryPacking;
import bitnet.kernels.Kernels;
import bitnet.kernels.cpu.ScalarKernels;
import com.fasterxml.jackson.databind.JsonNode;
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
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
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
 * <p>Targets are what {@link Pipeline} quantizes: {@link Qat#isTarget} tensors of the model the config
 * describes, minus preserve_patterns and tensors under preserve_min_elements. Embeddings and lm_head go
 * to the packed file as F16 or int8 (embedding_precision), other tensors as stored. It measures no
 * perplexity (that needs the whole model in memory) and does not fine-tune; pytorch_model.bin input
 * is not streamed (use the in-memory pipeline).
 */
public final class StreamingCompressor {
    private static final Logger LOG = Logger.getLogger("bitnet");
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    private static final List<String> COPY = List.of("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
            "generation_config.json", "tokenizer.model", "vocab.json", "merges.txt");

    private static final java.lang.foreign.ValueLayout.OfShort LE_I16 =
            java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN);
    private static final java.lang.foreign.ValueLayout.OfFloat LE_F32 =
            java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN);

    private StreamingCompressor() {
    }

    /** What to do with one input tensor. */
    private enum Role { TERNARY, EMBEDDING, PLAIN, SKIP }

    private record In(Path shard, String name, DType dtype, long[] shape, long fileOffset, long bytes, Role role) {
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
        long start = System.nanoTime();
        Map<String, Double> timings = new LinkedHashMap<>();
        Path modelDir = Path.of(c.model_path);
        if (!Files.isDirectory(modelDir)) {
            throw new BadInputException(modelDir, "model directory not found");
        }
        bitnet.engine.util.OutputSafety.checkDirectory(Path.of(c.output_path), overwrite, c.inputPaths());
        ModelConfig cfg = ModelConfig.load(modelDir.resolve("config.json"));
        List<Path> shards = shards(modelDir);
        boolean sharded = shards.size() > 1 || !shards.get(0).getFileName().toString().equals(Checkpoint.SAFETENSORS);

        // Which HF tensors the model has, and their kinds: from the model structure (no weights allocated).
        Map<String, HfTensor> known;
        long params = 0;
        try (Model m = Models.create(cfg, new ScalarKernels())) {
            known = new LinkedHashMap<>(m.tensors());
            for (HfTensor t : known.values()) {
                params += t.numel();
            }
        }
        String category = c.adaptToSize(params);
        Quantizer qz = Quantizer.parse(c.quantizerSpec());
        boolean perRow = qz.quantize("probe", new float[] {1, -2, 3, 0.5f}, 2, 2).perRow();
        Packing packing = Packing.parse(c.packing);

        // Pass 1: headers only (the mapping is touched only where the header lies).
        List<List<In>> plan = new ArrayList<>();
        List<String> unknown = new ArrayList<>();
        for (Path shard : shards) {
            List<In> ins = new ArrayList<>();
            try (Arena arena = Arena.ofConfined(); FileChannel ch = FileChannel.open(shard, StandardOpenOption.READ)) {
                MemorySegment all = ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), arena);
                SafetensorsFile f = SafetensorsFile.parse(shard, all);
                for (TensorData t : f.tensors().values()) {
                    HfTensor h = known.get(t.name());
                    Role role = h == null ? Role.SKIP : role(c, h);
                    if (h == null) {
                        unknown.add(t.name());
                    } else if (!java.util.Arrays.equals(h.shape(), t.shape())) {
                        throw new BadInputException(shard, "tensor '" + t.name() + "' has shape " + java.util.Arrays.toString(t.shape())
                                + " but config.json implies " + java.util.Arrays.toString(h.shape()));
                    }
                    if (role != Role.SKIP && !t.dtype().isFloat()) {
                        throw new BadInputException(shard, "tensor '" + t.name() + "' is " + t.dtype() + ", not a float type");
                    }
                    ins.add(new In(shard, t.name(), t.dtype(), t.shape(), t.data().address() - all.address(), t.data().byteSize(), role));
                }
            }
            plan.add(ins);
        }
        for (HfTensor h : known.values()) {
            if (plan.stream().flatMap(List::stream).noneMatch(i -> i.name().equals(h.name()))) {
                throw new BadInputException(modelDir, "tensor '" + h.name() + "' is missing from the checkpoint");
            }
        }
        if (!unknown.isEmpty()) {
            LOG.info("not part of the model, left out of the outputs: " + unknown);
        }
        timings.put("plan", (System.nanoTime() - start) / 1e9);

        Map<String, Object> results = new LinkedHashMap<>();
        long packedBytes;
        long bytesRead = 0;
        int quantized = 0, preserved = 0;
        long zeros = 0, codes = 0;
        double tQuant = 0, tRead = 0;
        try (OutputDir out = OutputDir.begin(Path.of(c.output_path), overwrite, false, c.inputPaths())) {
            Path packedFile = out.dir().resolve(PackedModelFormat.FILE_NAME);
            Path fp16Dir = out.dir().resolve(PackedLoader.FP16_DIR);
            Files.createDirectories(fp16Dir);
            ObjectNode entries = JSON.createObjectNode();
            List<Spec> packedSpecs = new ArrayList<>();
            for (List<In> ins : plan) {
                for (In in : ins) {
                    packedParts(c, in, perRow, packing, packedSpecs, entries);
                }
            }
            Map<String, String> meta = new LinkedHashMap<>();
            meta.put("format", PackedModelFormat.FORMAT);
            meta.put("format_version", PackedModelFormat.FORMAT_VERSION);
            meta.put("packing", packing.id());
            meta.put("tensors", new ObjectMapper().writeValueAsString(entries));
            meta.put("quantizer", c.quantizerSpec());
            Map<String, String> weightMap = new LinkedHashMap<>();
            long fp16Total = 0;
            try (StreamingSafetensorsWriter packed = new StreamingSafetensorsWriter(packedFile, packedSpecs, meta)) {
                for (List<In> ins : plan) {
                    String outName = sharded ? ins.isEmpty() ? null : ins.get(0).shard().getFileName().toString() : Checkpoint.SAFETENSORS;
                    List<Spec> fpSpecs = new ArrayList<>();
                    for (In in : ins) {
                        if (in.role() != Role.SKIP) {
                            fpSpecs.add(new Spec(in.name(), DType.F16, in.shape()));
                            weightMap.put(in.name(), outName);
                            fp16Total += 2 * (in.bytes() / in.dtype().size());
                        }
                    }
                    if (outName == null) {
                        continue;
                    }
                    try (FileChannel src = FileChannel.open(ins.get(0).shard(), StandardOpenOption.READ);
                         StreamingSafetensorsWriter fp16 = new StreamingSafetensorsWriter(fp16Dir.resolve(outName), fpSpecs,
                                 Map.of("format", "pt"))) {
                        for (In in : ins) {
                            if (in.role() == Role.SKIP) {
                                continue;
                            }
                            long r0 = System.nanoTime();
                            byte[] raw = read(src, in);
                            bytesRead += raw.length;
                            TensorData td = TensorData.ofBytes(in.name(), in.dtype(), raw, in.shape());
                            float[] w = td.toFloatArray();
                            long bad = countNonFinite(w);
                            if (bad > 0 && !c.allow_nonfinite) {
                                throw new BadInputException(in.shard(), "weights with NaN/Inf values: " + in.name() + " (" + bad + " of "
                                        + w.length + ") (set allow_nonfinite to compress anyway)");
                            }
                            tRead += (System.nanoTime() - r0) / 1e9;
                            long q0 = System.nanoTime();
                            switch (in.role()) {
                                case TERNARY -> {
                                    QuantResult q = qz.quantize(in.name(), w, in.rows(), in.cols());
                                    packed.write(in.name() + PackedModelFormat.TERNARY_SUFFIX, TernaryPacking.pack(packing, q.q(), in.rows(), in.cols()));
                                    packed.write(in.name() + PackedModelFormat.SCALE_SUFFIX, f32(q.scale()));
                                    w = q.dequantize();
                                    quantized++;
                                    for (byte b : q.q()) {
                                        zeros += b == 0 ? 1 : 0;
                                    }
                                    codes += q.q().length;
                                }
                                case EMBEDDING -> {
                                    if (c.embedding_precision.equals("int8")) {
                                        byte[] q = new byte[w.length];
                                        float[] s = new float[in.rows()];
                                        PackedModelFormat.quantizeInt8(w, in.rows(), in.cols(), q, s);
                                        packed.write(in.name() + PackedModelFormat.INT8_SUFFIX, q);
                                        packed.write(in.name() + PackedModelFormat.INT8_SCALE_SUFFIX, f32(s));
                                    } else {
                                        packed.write(in.name(), f16(w));
                                    }
                                    preserved++;
                                }
                                default -> {
                                    packed.write(in.name(), in.dtype() == DType.F64 ? f32(w) : raw);
                                    preserved++;
                                }
                            }
                            fp16.write(in.name(), f16(w));
                            tQuant += (System.nanoTime() - q0) / 1e9;
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
                failures.add(String.format(Locale.ROOT, "compression ratio %.2f below the target %.1f", ratio, c.target_compression_ratio));
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
            paths.put("quantized_model", fin.resolve(PackedModelFormat.FILE_NAME).toString());
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
            results.put("quality_gates", Map.of("target_compression_ratio", c.target_compression_ratio, "failures", failures));
            Map<String, Object> meta2 = new LinkedHashMap<>();
            meta2.put("method", "BitNet b1.58 ternary {-1,0,+1} with scales, streaming post-training quantization (no fine-tuning)");
            meta2.put("quantizer", qz.name());
            meta2.put("packing", c.packing);
            meta2.put("config", c.toMap());
            meta2.put("model", Map.of("path", modelDir.toString(), "architecture", cfg.architecture(), "parameters", params));
            meta2.put("results", results);
            Files.writeString(out.dir().resolve("compression_metadata.json"), bitnet.engine.cli.Outputs.JSON.writeValueAsString(meta2));
            out.commit();
        }
        LOG.info(String.format(Locale.ROOT, "streaming compression: %,d parameters, %d quantized, %.1f s, %.3f GB/s read",
                params, quantized, timings.get("total"), bytesRead / 1e9 / timings.get("total")));
        return results;
    }

    private static Role role(CompressConfig c, HfTensor h) {
        Param.Kind kind = h.parts().get(0).kind;
        if (Qat.isTarget(h) && h.numel() >= c.preserve_min_elements && c.preserve_patterns.stream().noneMatch(h.name()::contains)) {
            return Role.TERNARY;
        }
        boolean emb = kind == Param.Kind.EMBEDDING || kind == Param.Kind.HEAD || kind == Param.Kind.POSITION;
        return emb && h.shape().length == 2 ? Role.EMBEDDING : Role.PLAIN;
    }

    private static void packedParts(CompressConfig c, In in, boolean perRow, Packing packing, List<Spec> specs, ObjectNode entries) {
        if (in.role() == Role.SKIP) {
            return;
        }
        ObjectNode e = entries.putObject(in.name());
        var sh = e.putArray("shape");
        for (long d : in.shape()) {
            sh.add(d);
        }
        e.put("dtype", in.dtype().safetensorsName());
        switch (in.role()) {
            case TERNARY -> {
                e.put("kind", PackedModelFormat.Kind.TERNARY.id());
                e.put("scale", perRow ? "per_row" : "per_tensor");
                specs.add(new Spec(in.name() + PackedModelFormat.TERNARY_SUFFIX, DType.U8,
                        new long[] {in.rows(), packing.bytesPerRow(in.cols())}));
                specs.add(new Spec(in.name() + PackedModelFormat.SCALE_SUFFIX, DType.F32, new long[] {perRow ? in.rows() : 1}));
            }
            case EMBEDDING -> {
                if (c.embedding_precision.equals("int8")) {
                    e.put("kind", PackedModelFormat.Kind.INT8.id());
                    e.put("scale", "per_row");
                    specs.add(new Spec(in.name() + PackedModelFormat.INT8_SUFFIX, DType.I8, in.shape()));
                    specs.add(new Spec(in.name() + PackedModelFormat.INT8_SCALE_SUFFIX, DType.F32, new long[] {in.rows()}));
                } else {
                    e.put("kind", PackedModelFormat.Kind.PLAIN.id());
                    specs.add(new Spec(in.name(), DType.F16, in.shape()));
                }
            }
            default -> {
                e.put("kind", PackedModelFormat.Kind.PLAIN.id());
                specs.add(new Spec(in.name(), in.dtype() == DType.F64 ? DType.F32 : in.dtype(), in.shape()));
            }
        }
    }

    /** The weight files in order: model.safetensors, or the shards of model.safetensors.index.json. */
    static List<Path> shards(Path dir) {
        Path single = dir.resolve(Checkpoint.SAFETENSORS);
        if (Files.isRegularFile(single)) {
            return List.of(single);
        }
        Path index = dir.resolve(Checkpoint.SAFETENSORS_INDEX);
        if (!Files.isRegularFile(index)) {
            throw new BadInputException(dir, "streaming compression reads safetensors only (model.safetensors or "
                    + Checkpoint.SAFETENSORS_INDEX + ")");
        }
        JsonNode map;
        try {
            map = new ObjectMapper().readTree(index.toFile()).get("weight_map");
        } catch (IOException e) {
            throw new BadInputException(index, "not valid JSON: " + e.getMessage().lines().findFirst().orElse(""), e);
        }
        if (map == null || !map.isObject() || map.isEmpty()) {
            throw new BadInputException(index, "'weight_map' is missing, empty or not an object");
        }
        LinkedHashSet<String> names = new LinkedHashSet<>();
        for (Iterator<JsonNode> it = map.elements(); it.hasNext(); ) {
            String s = it.next().asText();
            if (s.isEmpty() || s.contains("/") || s.contains("\\") || s.equals("..") || s.equals(".") || !s.endsWith(".safetensors")) {
                throw new BadInputException(index, "shard '" + s + "' is not a plain .safetensors file name in the model directory");
            }
            names.add(s);
        }
        List<Path> out = new ArrayList<>();
        for (String s : names) {
            Path p = dir.resolve(s);
            if (!Files.isRegularFile(p)) {
                throw new BadInputException(index, "shard '" + s + "' is missing");
            }
            out.add(p);
        }
        return out;
    }

    private static byte[] read(FileChannel ch, In in) throws IOException {
        if (in.bytes() > Integer.MAX_VALUE - 16) {
            throw new BadInputException(in.shard(), "tensor '" + in.name() + "' is over 2 GB, beyond the streaming reader");
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

    private static byte[] f16(float[] w) {
        byte[] b = new byte[2 * w.length];
        MemorySegment s = MemorySegment.ofArray(b);
        for (int i = 0; i < w.length; i++) {
            s.set(LE_I16, 2L * i, Float.floatToFloat16(w[i]));
        }
        return b;
    }

    private static byte[] f32(float[] w) {
        byte[] b = new byte[4 * w.length];
        MemorySegment.copy(w, 0, MemorySegment.ofArray(b), LE_F32, 0, w.length);
        return b;
    }

    private static void writeFp16Config(ModelConfig cfg, Path src, Path dir, boolean sharded, Map<String, String> weightMap,
                                        long totalSize) throws IOException {
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
