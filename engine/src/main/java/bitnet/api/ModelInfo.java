package bitnet.api;

import bitnet.engine.compress.CompressConfig;
import bitnet.engine.model.HfTensor;
import bitnet.engine.model.Model;
import bitnet.engine.model.Models;
import bitnet.engine.model.Param;
import bitnet.engine.train.Qat;
import bitnet.io.Checkpoint;
import bitnet.io.ModelConfig;
import bitnet.io.TensorData;
import bitnet.kernels.Backends;
import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * What a HuggingFace model directory holds and what {@code compress} (default settings) does with
 * it: the architecture, its sizes, the stored tensors, which tensors become ternary, which stay,
 * which are fused or tied. Read without loading the weights ({@link #read}). Immutable.
 *
 * @param architecture config.json's architecture, e.g. {@code LlamaForCausalLM}
 * @param modelType config.json's {@code model_type}
 * @param family the engine's family: gpt2, llama (Llama, Mistral, Qwen2), qwen3, gemma3, phi3, gpt_neox
 * @param parameters the parameter count
 * @param bytes the stored tensors' bytes
 * @param layers transformer blocks
 * @param hidden the hidden size
 * @param heads attention heads
 * @param kvHeads key/value heads
 * @param headDim the head size
 * @param ffn the feed-forward size
 * @param vocab the vocabulary size
 * @param tiedEmbeddings whether the LM head is the embedding matrix
 * @param quantized tensors compress makes ternary
 * @param preserved tensors compress keeps in higher precision
 * @param tied {@code head} to the embedding tensor's name when tied, else empty
 * @param fused each fused tensor's name to its parts (e.g. a QKV matrix)
 * @param tensors the stored tensors in file order
 */
public record ModelInfo(
        String architecture,
        String modelType,
        String family,
        long parameters,
        long bytes,
        int layers,
        int hidden,
        int heads,
        int kvHeads,
        int headDim,
        int ffn,
        int vocab,
        boolean tiedEmbeddings,
        List<String> quantized,
        List<String> preserved,
        Map<String, String> tied,
        Map<String, List<String>> fused,
        List<Tensor> tensors) {

    /**
     * One stored tensor. Immutable.
     *
     * @param name its name in the checkpoint
     * @param dtype the safetensors dtype name (F32, F16, BF16, ...)
     * @param shape its shape
     * @param bytes its stored bytes
     */
    public record Tensor(String name, String dtype, long[] shape, long bytes) {}

    /** Copies the collections. */
    public ModelInfo {
        quantized = List.copyOf(quantized);
        preserved = List.copyOf(preserved);
        tied = Map.copyOf(tied);
        fused = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(fused));
        tensors = List.copyOf(tensors);
    }

    /**
     * Reads a model directory's config and tensor headers (the weights are mapped, not read).
     *
     * @param dir a HuggingFace model directory, or a compress output (its dequantized model is read)
     * @return the description
     * @throws bitnet.io.BadInputException when the directory or a file in it is missing or malformed
     */
    public static ModelInfo read(Path dir) {
        try (Arena arena = Arena.ofConfined()) {
            Checkpoint ck = Checkpoint.open(BitnetModel.hfDir(dir), arena);
            ModelConfig c = ck.config();
            CompressConfig defaults = new CompressConfig();
            List<String> quantized = new ArrayList<>(), preserved = new ArrayList<>();
            Map<String, List<String>> fused = new LinkedHashMap<>();
            Map<String, String> tied = new LinkedHashMap<>();
            long params;
            // the model's parameter layout without its weights: created, never loaded
            try (Model m = Models.create(c, Backends.select("scalar", 1).kernels())) {
                params = m.parameterCount();
                for (HfTensor t : m.tensors().values()) {
                    (Qat.isTarget(t) && !defaults.preserves(t.name(), t.numel()) ? quantized : preserved).add(t.name());
                    if (t.parts().size() > 1) {
                        fused.put(
                                t.name(),
                                t.parts().stream()
                                        .map(p -> p.name.substring(p.name.indexOf('#') + 1))
                                        .toList());
                    }
                    if (t.parts().get(0).kind == Param.Kind.EMBEDDING && c.tieWordEmbeddings()) {
                        tied.put("head", t.name());
                    }
                }
            }
            List<Tensor> ts = new ArrayList<>();
            long bytes = 0;
            for (TensorData t : ck.tensors().values()) {
                ts.add(new Tensor(
                        t.name(),
                        t.dtype().safetensorsName(),
                        t.shape(),
                        t.data().byteSize()));
                bytes += t.data().byteSize();
            }
            return new ModelInfo(
                    c.architecture(),
                    c.modelType(),
                    c.family().name().toLowerCase(Locale.ROOT),
                    params,
                    bytes,
                    c.numLayers(),
                    c.hiddenSize(),
                    c.numHeads(),
                    c.numKvHeads(),
                    c.headDim(),
                    c.intermediateSize(),
                    c.vocabSize(),
                    c.tieWordEmbeddings(),
                    quantized,
                    preserved,
                    tied,
                    fused,
                    ts);
        }
    }

    /**
     * The description as one JSON-ready object (the {@code inspect --json} schema):
     * architecture, model_type, family, quantized, preserved, tied, fused, parameters, bytes,
     * tensors (name, dtype, shape, bytes).
     *
     * @return a new ordered map
     */
    public Map<String, Object> toMap() {
        Map<String, Object> o = new LinkedHashMap<>();
        o.put("architecture", architecture);
        o.put("model_type", modelType);
        o.put("family", family);
        o.put("quantized", quantized);
        o.put("preserved", preserved);
        o.put("tied", tied);
        o.put("fused", fused);
        o.put("parameters", parameters);
        o.put("bytes", bytes);
        List<Map<String, Object>> ts = new ArrayList<>();
        for (Tensor t : tensors) {
            Map<String, Object> e = new LinkedHashMap<>();
            e.put("name", t.name());
            e.put("dtype", t.dtype());
            e.put("shape", t.shape());
            e.put("bytes", t.bytes());
            ts.add(e);
        }
        o.put("tensors", ts);
        return o;
    }
}
