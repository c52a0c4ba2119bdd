package bitnet.engine.cli;

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
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(
        name = "inspect",
        description =
                "Architecture and family, parameter count, tensors with dtype, shape and bytes, and what compress quantizes, keeps and ties.")
public final class InspectCmd implements Callable<Integer> {
    @Mixin
    ModelArgs model;

    @Option(names = "--json", description = "print exactly one JSON object on stdout")
    boolean json;

    @Option(names = "--debug", description = "show stack traces")
    boolean debug;

    @Override
    public Integer call() {
        if (java.nio.file.Files.isRegularFile(model.model)
                && model.model.toString().endsWith(".gguf")) {
            return bitnet.engine.export.GgufInspect.print(model.model, json);
        }
        try (Arena arena = Arena.ofShared()) {
            Checkpoint ck = model.checkpoint(arena);
            long params;
            // what compress does with each tensor under the default settings
            CompressConfig defaults = new CompressConfig();
            List<String> quantized = new ArrayList<>(), preserved = new ArrayList<>();
            Map<String, List<String>> fused = new LinkedHashMap<>();
            Map<String, String> tied = new LinkedHashMap<>();
            try (Model m =
                    Models.create(ck.config(), Backends.select("scalar", 1).kernels())) {
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
                    if (t.parts().get(0).kind == Param.Kind.EMBEDDING
                            && ck.config().tieWordEmbeddings()) {
                        tied.put("head", t.name());
                    }
                }
            }
            List<Map<String, Object>> ts = new ArrayList<>();
            long bytes = 0;
            for (TensorData t : ck.tensors().values()) {
                Map<String, Object> e = new LinkedHashMap<>();
                e.put("name", t.name());
                e.put("dtype", t.dtype().safetensorsName());
                e.put("shape", t.shape());
                e.put("bytes", t.data().byteSize());
                bytes += t.data().byteSize();
                ts.add(e);
            }
            if (json) {
                Map<String, Object> o = new LinkedHashMap<>();
                o.put("architecture", ck.config().architecture());
                o.put("model_type", ck.config().modelType());
                o.put("family", family(ck.config()));
                o.put("quantized", quantized);
                o.put("preserved", preserved);
                o.put("tied", tied);
                o.put("fused", fused);
                o.put("parameters", params);
                o.put("bytes", bytes);
                o.put("tensors", ts);
                Outputs.printJson(o);
            } else {
                var c = ck.config();
                System.out.printf("architecture  %s (%s), family %s%n", c.architecture(), c.modelType(), family(c));
                System.out.printf("parameters    %,d%n", params);
                System.out.printf(
                        "layers %d, hidden %d, heads %d (kv %d), head_dim %d, ffn %d, vocab %d, tied head %s%n",
                        c.numLayers(),
                        c.hiddenSize(),
                        c.numHeads(),
                        c.numKvHeads(),
                        c.headDim(),
                        c.intermediateSize(),
                        c.vocabSize(),
                        c.tieWordEmbeddings());
                System.out.printf(
                        "compress (defaults): %d tensors quantized, %d preserved; head %s%n",
                        quantized.size(), preserved.size(), tied.isEmpty() ? "untied" : "tied to " + tied.get("head"));
                for (var f : fused.entrySet()) {
                    System.out.printf("fused         %s = %s%n", f.getKey(), String.join(" | ", f.getValue()));
                }
                System.out.printf("%-60s %-5s %-16s %12s %s%n", "tensor", "dtype", "shape", "bytes", "compress");
                for (var e : ts) {
                    System.out.printf(
                            "%-60s %-5s %-16s %,12d %s%n",
                            e.get("name"),
                            e.get("dtype"),
                            java.util.Arrays.toString((long[]) e.get("shape")),
                            (long) e.get("bytes"),
                            quantized.contains((String) e.get("name"))
                                    ? "ternary"
                                    : preserved.contains((String) e.get("name")) ? "kept" : "unused");
                }
                System.out.printf("total %,d bytes%n", bytes);
            }
        }
        return 0;
    }

    /** The engine's family name: gpt2, llama (Llama, Mistral, Qwen2), qwen3, gemma3, phi3, gpt_neox. */
    static String family(ModelConfig c) {
        return c.family().name().toLowerCase(java.util.Locale.ROOT);
    }
}
