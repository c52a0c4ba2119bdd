package bitnet.api;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What a compression produced and measured. Perplexities are measured on the files written;
 * a streaming compression measures none (they are then null). Immutable.
 *
 * @param success whether every quality gate passed (the outputs are written either way)
 * @param error the failed gates, or null
 * @param compressionRatio FP32 bytes of the parameters / bytes of the packed file
 * @param sparsity fraction of zero ternary codes
 * @param parameters parameters of the model
 * @param packedBytes bytes of the packed file
 * @param layersQuantized tensors stored ternary
 * @param layersPreserved tensors kept (int8, F16 or as stored)
 * @param pplOriginal held-out perplexity of the input model (null when streaming)
 * @param pplQuantized after quantization, before fine-tuning (null when streaming)
 * @param pplFinal of the written FP16 model (null when streaming)
 * @param pplPacked of the written packed ternary model (null when streaming)
 * @param streaming whether the tensor-by-tensor path ran
 * @param layers one record per quantized tensor (empty when streaming)
 * @param outputs where everything was written
 * @param timingsSeconds seconds per stage
 * @param json the results object exactly as {@code bitnet compress --json} prints it (unmodifiable)
 */
public record CompressResult(
        boolean success,
        String error,
        double compressionRatio,
        double sparsity,
        long parameters,
        long packedBytes,
        int layersQuantized,
        int layersPreserved,
        Double pplOriginal,
        Double pplQuantized,
        Double pplFinal,
        Double pplPacked,
        boolean streaming,
        List<LayerRecord> layers,
        OutputPaths outputs,
        Map<String, Double> timingsSeconds,
        Map<String, Object> json) {

    /**
     * One quantized tensor: error and sparsity after quantization, and after fine-tuning.
     *
     * @param name the tensor's HF name
     * @param mse mean squared error of the ternary weights against the original ones
     * @param relError relative Frobenius error
     * @param sparsity fraction of zero codes
     * @param scaleMin smallest scale
     * @param scaleMax largest scale
     * @param finalRelError relative error of the shipped weights (after fine-tuning)
     * @param finalSparsity sparsity of the shipped codes
     */
    public record LayerRecord(
            String name,
            double mse,
            double relError,
            double sparsity,
            double scaleMin,
            double scaleMax,
            double finalRelError,
            double finalSparsity) {}

    /**
     * The files of the output directory.
     *
     * @param directory the output directory
     * @param packedModel {@code bitnet_quantized_model.safetensors}
     * @param fp16Model the dequantized FP16 HuggingFace directory
     * @param metadata {@code compression_metadata.json}
     */
    public record OutputPaths(Path directory, Path packedModel, Path fp16Model, Path metadata) {}

    @SuppressWarnings("unchecked")
    static CompressResult of(Map<String, Object> results, List<Map<String, Object>> layerRows) {
        Map<String, Object> m = (Map<String, Object>) results.get("metrics");
        Map<String, Object> p = (Map<String, Object>) results.get("output_paths");
        Map<String, Double> t = new LinkedHashMap<>();
        ((Map<String, Object>) results.get("timings_s")).forEach((k, v) -> t.put(k, ((Number) v).doubleValue()));
        List<LayerRecord> layers = new ArrayList<>();
        for (Map<String, Object> r : layerRows) {
            layers.add(new LayerRecord(
                    (String) r.get("name"),
                    d(r, "mse"),
                    d(r, "rel_error"),
                    d(r, "sparsity"),
                    d(r, "scale_min"),
                    d(r, "scale_max"),
                    d(r, "final_rel_error"),
                    d(r, "final_sparsity")));
        }
        OutputPaths out = new OutputPaths(
                Path.of((String) p.get("output_dir")),
                Path.of((String) p.get("quantized_model")),
                Path.of((String) p.get("dequantized_fp16")),
                Path.of((String) p.get("metadata")));
        return new CompressResult(
                Boolean.TRUE.equals(results.get("success")),
                (String) results.get("error"),
                d(m, "compression_ratio"),
                d(m, "sparsity_ratio"),
                ((Number) m.get("parameters")).longValue(),
                ((Number) m.get("packed_bytes")).longValue(),
                ((Number) m.get("layers_quantized")).intValue(),
                ((Number) m.get("layers_preserved")).intValue(),
                o(m, "ppl_original"),
                o(m, "ppl_quantized"),
                o(m, "ppl_final"),
                o(m, "ppl_packed"),
                Boolean.TRUE.equals(m.get("streaming")),
                List.copyOf(layers),
                out,
                Collections.unmodifiableMap(t),
                Collections.unmodifiableMap(results));
    }

    private static double d(Map<String, Object> m, String k) {
        return m.get(k) instanceof Number n ? n.doubleValue() : Double.NaN;
    }

    private static Double o(Map<String, Object> m, String k) {
        return m.get(k) instanceof Number n ? n.doubleValue() : null;
    }
}
