package bitnet.engine.model;

import bitnet.io.DType;
import bitnet.io.SafetensorsWriter;
import bitnet.io.TensorData;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * Writes a HuggingFace model directory that transformers' from_pretrained loads as is:
 * config.json (dtype rewritten in both spellings), model.safetensors with every tensor of the
 * model under its HF name in the requested dtype, tokenizer and generation files copied.
 */
public final class HfWriter {
    static final List<String> COPY = List.of(
            "tokenizer.json",
            "tokenizer_config.json",
            "special_tokens_map.json",
            "generation_config.json",
            "tokenizer.model",
            "vocab.json",
            "merges.txt");
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private HfWriter() {}

    /**
     * @param values HF-layout FP32 values per tensor (e.g. dequantized weights); null uses the model's own
     */
    public static void write(
            Model m,
            Path srcDir,
            Path outDir,
            DType dtype,
            Function<HfTensor, float[]> values,
            Map<String, String> metadata)
            throws IOException {
        Files.createDirectories(outDir);
        List<TensorData> ts = new ArrayList<>();
        for (HfTensor t : m.tensors().values()) {
            float[] v = values == null ? m.getHf(t) : values.apply(t);
            TensorData f32 = TensorData.ofFloats(t.name(), v, t.shape());
            ts.add(dtype == DType.F32 ? f32 : f32.convert(dtype, null));
        }
        SafetensorsWriter.write(outDir.resolve("model.safetensors"), ts, metadata);
        ObjectNode cfg = (ObjectNode) m.cfg.raw().deepCopy();
        String name = switch (dtype) {
            case F16 -> "float16";
            case BF16 -> "bfloat16";
            default -> "float32";
        };
        cfg.put("torch_dtype", name);
        cfg.put("dtype", name);
        if (m.cfg.tieWordEmbeddings()) {
            cfg.put("tie_word_embeddings", true);
        }
        Path tmp = outDir.resolve("config.json.tmp");
        Files.writeString(tmp, JSON.writeValueAsString(cfg));
        Files.move(
                tmp,
                outDir.resolve("config.json"),
                StandardCopyOption.REPLACE_EXISTING,
                StandardCopyOption.ATOMIC_MOVE);
        for (String f : COPY) {
            Path s = srcDir.resolve(f);
            if (Files.isRegularFile(s)) {
                Files.copy(s, outDir.resolve(f), StandardCopyOption.REPLACE_EXISTING);
            }
        }
    }
}
