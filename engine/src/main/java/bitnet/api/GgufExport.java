package bitnet.api;

import bitnet.engine.export.GgufExporter;
import bitnet.engine.util.OutputSafety;
import bitnet.io.gguf.GgmlType;
import bitnet.io.gguf.GgufFile;
import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes GGUF v3 files that llama.cpp loads, from a compress output (ternary matrices as TQ2_0 or
 * TQ1_0 where rows are a multiple of 256, else exact Q4_0; int8 embeddings as Q8_0) or from a
 * HuggingFace directory. Stateless; safe from any thread.
 */
public final class GgufExport {
    private GgufExport() {}

    /**
     * What was written. Immutable.
     *
     * @param path the file
     * @param bytes its size
     * @param tensors how many tensors of each GGUF type
     * @param tokenizer the tokenizer model written ({@code gpt2}, {@code llama}, ...)
     */
    public record Result(Path path, long bytes, Map<String, Integer> tensors, String tokenizer) {
        /** Copies the map (its order kept). */
        public Result {
            tensors = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(tensors));
        }
    }

    /**
     * Exports a model to one GGUF file.
     *
     * @param model a compress output directory or a HuggingFace model directory
     * @param output the {@code .gguf} file; never an input or inside one
     * @param ternaryType {@code tq2_0} (2.06 bits per weight), {@code tq1_0} (1.69 bits) or {@code q2_0}
     *     (2.25 bits, blocks of 64; rows that are multiples of 64)
     * @param floatType {@code f16}, {@code f32}, or null to keep float matrices as stored
     * @param placeholderVocab write a stand-in vocabulary (for models without a tokenizer)
     * @param overwrite replace an existing output that bitnet wrote
     * @return what was written
     * @throws IllegalArgumentException for an unknown type
     * @throws bitnet.io.BadInputException when the model is missing or malformed, or the output
     *     exists (without overwrite) or overlaps the model
     */
    public static Result export(
            Path model,
            Path output,
            String ternaryType,
            String floatType,
            boolean placeholderVocab,
            boolean overwrite) {
        GgmlType tt = switch (ternaryType) {
            case "tq2_0" -> GgmlType.TQ2_0;
            case "tq1_0" -> GgmlType.TQ1_0;
            case "q2_0" -> GgmlType.Q2_0;
            default ->
                throw new IllegalArgumentException(
                        "--ternary-type must be tq2_0, tq1_0 or q2_0, got '" + ternaryType + "'");
        };
        GgmlType ft = floatType == null
                ? null
                : switch (floatType) {
                    case "f16" -> GgmlType.F16;
                    case "f32" -> GgmlType.F32;
                    default -> throw new IllegalArgumentException("--type must be f16 or f32, got '" + floatType + "'");
                };
        OutputSafety.checkFile(output, overwrite, List.of(model));
        GgufExporter.Result r = GgufExporter.export(model, output, new GgufExporter.Options(tt, ft, placeholderVocab));
        return new Result(r.path(), r.bytes(), r.tensors(), r.tokenizer());
    }

    /**
     * Describes a GGUF file, read by the validating reader: its version, architecture, metadata
     * (arrays longer than 8 values summarised as "[N type values]") and tensors.
     *
     * @param file a {@code .gguf} file
     * @return keys {@code format} ("gguf"), {@code version}, {@code architecture}, {@code metadata}
     *     (key to value), {@code bytes} (tensor data), {@code tensors} (each {@code name},
     *     {@code type}, {@code ne} as long[], {@code bytes}), in that order
     * @throws bitnet.io.BadInputException when the file is not a valid GGUF file
     */
    public static Map<String, Object> describe(Path file) {
        try (Arena a = Arena.ofConfined()) {
            GgufFile g = GgufFile.open(file, a);
            Map<String, Object> meta = new LinkedHashMap<>();
            g.metadata()
                    .forEach((k, v) -> meta.put(
                            k,
                            v.value() instanceof List<?> l && l.size() > 8
                                    ? "[" + l.size() + " " + v.elemType().name().toLowerCase() + " values]"
                                    : v.value()));
            List<Map<String, Object>> ts = new ArrayList<>();
            long bytes = 0;
            for (GgufFile.TensorInfo t : g.tensors().values()) {
                Map<String, Object> e = new LinkedHashMap<>();
                e.put("name", t.name());
                e.put("type", t.type().ggmlName());
                e.put("ne", t.ne());
                e.put("bytes", t.data().byteSize());
                bytes += t.data().byteSize();
                ts.add(e);
            }
            Map<String, Object> o = new LinkedHashMap<>();
            o.put("format", "gguf");
            o.put("version", g.version());
            o.put("architecture", g.get("general.architecture"));
            o.put("metadata", meta);
            o.put("bytes", bytes);
            o.put("tensors", ts);
            return o;
        }
    }
}
