package bitnet.engine.cli;

import bitnet.api.GgufExport;
import bitnet.api.ModelInfo;
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
            return printGguf(GgufExport.describe(model.model));
        }
        ModelInfo info = ModelInfo.read(model.model);
        if (json) {
            Outputs.printJson(info.toMap());
            return 0;
        }
        System.out.printf("architecture  %s (%s), family %s%n", info.architecture(), info.modelType(), info.family());
        System.out.printf("parameters    %,d%n", info.parameters());
        System.out.printf(
                "layers %d, hidden %d, heads %d (kv %d), head_dim %d, ffn %d, vocab %d, tied head %s%n",
                info.layers(),
                info.hidden(),
                info.heads(),
                info.kvHeads(),
                info.headDim(),
                info.ffn(),
                info.vocab(),
                info.tiedEmbeddings());
        System.out.printf(
                "compress (defaults): %d tensors quantized, %d preserved; head %s%n",
                info.quantized().size(),
                info.preserved().size(),
                info.tied().isEmpty() ? "untied" : "tied to " + info.tied().get("head"));
        for (var f : info.fused().entrySet()) {
            System.out.printf("fused         %s = %s%n", f.getKey(), String.join(" | ", f.getValue()));
        }
        System.out.printf("%-60s %-5s %-16s %12s %s%n", "tensor", "dtype", "shape", "bytes", "compress");
        for (ModelInfo.Tensor t : info.tensors()) {
            System.out.printf(
                    "%-60s %-5s %-16s %,12d %s%n",
                    t.name(),
                    t.dtype(),
                    java.util.Arrays.toString(t.shape()),
                    t.bytes(),
                    info.quantized().contains(t.name())
                            ? "ternary"
                            : info.preserved().contains(t.name()) ? "kept" : "unused");
        }
        System.out.printf("total %,d bytes%n", info.bytes());
        return 0;
    }

    /** inspect of a GGUF file: one JSON object, or its metadata and a tensor table. */
    private int printGguf(Map<String, Object> g) {
        if (json) {
            Outputs.printJson(g);
            return 0;
        }
        System.out.printf("GGUF v%s, architecture %s%n", g.get("version"), g.get("architecture"));
        ((Map<?, ?>) g.get("metadata")).forEach((k, v) -> System.out.printf("  %-48s %s%n", k, v));
        System.out.printf("%-48s %-6s %-20s %12s%n", "tensor", "type", "ne", "bytes");
        for (Object o : (List<?>) g.get("tensors")) {
            Map<?, ?> e = (Map<?, ?>) o;
            System.out.printf(
                    "%-48s %-6s %-20s %,12d%n",
                    e.get("name"), e.get("type"), java.util.Arrays.toString((long[]) e.get("ne")), (long)
                            e.get("bytes"));
        }
        System.out.printf("total %,d bytes of tensor data%n", (long) g.get("bytes"));
        return 0;
    }
}
