package bitnet.engine.cli;

import bitnet.engine.model.Model;
import bitnet.engine.model.Models;
import bitnet.io.Checkpoint;
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

@Command(name = "inspect", description = "Architecture, parameter count, tensors with dtype, shape and bytes.")
public final class InspectCmd implements Callable<Integer> {
    @Mixin
    ModelArgs model;

    @Option(names = "--json", description = "print exactly one JSON object on stdout")
    boolean json;

    @Option(names = "--debug", description = "show stack traces")
    boolean debug;

    @Override
    public Integer call() {
        try (Arena arena = Arena.ofShared()) {
            Checkpoint ck = model.checkpoint(arena);
            long params;
            try (Model m = Models.create(ck.config(), Backends.select("scalar", 1).kernels())) {
                params = m.parameterCount();
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
                o.put("parameters", params);
                o.put("bytes", bytes);
                o.put("tensors", ts);
                Outputs.printJson(o);
            } else {
                var c = ck.config();
                System.out.printf("architecture  %s (%s)%n", c.architecture(), c.modelType());
                System.out.printf("parameters    %,d%n", params);
                System.out.printf("layers %d, hidden %d, heads %d (kv %d), head_dim %d, ffn %d, vocab %d, tied head %s%n",
                        c.numLayers(), c.hiddenSize(), c.numHeads(), c.numKvHeads(), c.headDim(), c.intermediateSize(),
                        c.vocabSize(), c.tieWordEmbeddings());
                System.out.printf("%-60s %-5s %-16s %12s%n", "tensor", "dtype", "shape", "bytes");
                for (var e : ts) {
                    System.out.printf("%-60s %-5s %-16s %,12d%n", e.get("name"), e.get("dtype"),
                            java.util.Arrays.toString((long[]) e.get("shape")), (long) e.get("bytes"));
                }
                System.out.printf("total %,d bytes%n", bytes);
            }
        }
        return 0;
    }
}
