package bitnet.engine.export;

import bitnet.engine.cli.Outputs;
import bitnet.io.gguf.GgufFile;
import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** {@code inspect --model F.gguf}: a GGUF file's metadata (long arrays summarised) and tensors, read by the validating reader. */
public final class GgufInspect {
    private GgufInspect() {}

    public static int print(Path file, boolean json) {
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
            if (json) {
                Map<String, Object> o = new LinkedHashMap<>();
                o.put("format", "gguf");
                o.put("version", g.version());
                o.put("architecture", g.get("general.architecture"));
                o.put("metadata", meta);
                o.put("bytes", bytes);
                o.put("tensors", ts);
                Outputs.printJson(o);
            } else {
                System.out.printf("GGUF v%d, architecture %s%n", g.version(), g.get("general.architecture"));
                meta.forEach((k, v) -> System.out.printf("  %-48s %s%n", k, v));
                System.out.printf("%-48s %-6s %-20s %12s%n", "tensor", "type", "ne", "bytes");
                for (var e : ts) {
                    System.out.printf(
                            "%-48s %-6s %-20s %,12d%n",
                            e.get("name"), e.get("type"), java.util.Arrays.toString((long[]) e.get("ne")), (long)
                                    e.get("bytes"));
                }
                System.out.printf("total %,d bytes of tensor data%n", bytes);
            }
        }
        return 0;
    }
}
