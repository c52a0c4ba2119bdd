package bitnet.engine.quant;

import bitnet.io.SafetensorsFile;
import bitnet.io.TensorData;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;

/**
 * Test helper: FP32 copies of the weights of one hf-tiny case (single file, sharded, or
 * pytorch_model.bin). The .bin path is a deliberately tiny walker over the pickle opcodes torch's
 * save emits for a flat state dict of FloatStorage tensors; it is not the engine's .bin reader and
 * it refuses anything it does not recognise (the quantizer tests then fail loudly).
 */
final class HfTinyWeights {
    static final Path ROOT = Path.of("src/test/resources/hf-tiny");
    static final List<String> CASES = List.of(
            "gpt2",
            "gpt2-bin",
            "llama",
            "llama-f16",
            "llama3rope-bf16-sharded",
            "mistral",
            "qwen2",
            "qwen3",
            "gemma3",
            "phi3",
            "phi3-longrope",
            "gpt_neox",
            "gpt_neox-seq");

    private HfTinyWeights() {}

    /** name -> (values, shape) for every tensor of the case's model. */
    static Map<String, TensorData> load(String caseName, Arena arena) throws IOException {
        Path dir = ROOT.resolve(caseName);
        Map<String, TensorData> out = new HashMap<>();
        if (Files.exists(dir.resolve("model.safetensors"))) {
            out.putAll(SafetensorsFile.open(dir.resolve("model.safetensors"), arena)
                    .tensors());
        } else if (Files.exists(dir.resolve("model.safetensors.index.json"))) {
            JsonNode idx = new ObjectMapper()
                    .readTree(dir.resolve("model.safetensors.index.json").toFile());
            java.util.Set<String> shards = new java.util.TreeSet<>();
            idx.get("weight_map")
                    .fields()
                    .forEachRemaining(e -> shards.add(e.getValue().asText()));
            for (String s : shards) {
                out.putAll(SafetensorsFile.open(dir.resolve(s), arena).tensors());
            }
        } else {
            out.putAll(loadBin(dir.resolve("pytorch_model.bin")));
        }
        return out;
    }

    private static Map<String, TensorData> loadBin(Path file) throws IOException {
        Map<String, TensorData> out = new HashMap<>();
        try (ZipFile zip = new ZipFile(file.toFile())) {
            ZipEntry pkl = zip.stream()
                    .filter(e -> e.getName().endsWith("/data.pkl"))
                    .findFirst()
                    .orElseThrow();
            String prefix = pkl.getName().substring(0, pkl.getName().length() - "data.pkl".length());
            byte[] p = zip.getInputStream(pkl).readAllBytes();
            // Walk opcodes, remembering fresh strings and small ints in order. A tensor record is:
            // NAME, 'storage', GLOBAL torch FloatStorage, KEY, 'cpu', numel, PERSID, offset, (shape), (stride).
            List<Object> toks = new ArrayList<>();
            int i = 2; // after PROTO n
            while (i < p.length) {
                int op = p[i++] & 0xff;
                switch (op) {
                    case 'X' -> {
                        int n = ByteBuffer.wrap(p, i, 4)
                                .order(ByteOrder.LITTLE_ENDIAN)
                                .getInt();
                        toks.add(new String(p, i + 4, n, StandardCharsets.UTF_8));
                        i += 4 + n;
                    }
                    case 'c' -> {
                        int a = indexOf(p, i, (byte) '\n');
                        int b = indexOf(p, a + 1, (byte) '\n');
                        toks.add("GLOBAL " + new String(p, i, a - i, StandardCharsets.UTF_8) + " "
                                + new String(p, a + 1, b - a - 1, StandardCharsets.UTF_8));
                        i = b + 1;
                    }
                    case 'K' -> toks.add((long) (p[i++] & 0xff));
                    case 'M' -> {
                        toks.add((long) ((p[i] & 0xff) | (p[i + 1] & 0xff) << 8));
                        i += 2;
                    }
                    case 'J' -> {
                        toks.add((long) ByteBuffer.wrap(p, i, 4)
                                .order(ByteOrder.LITTLE_ENDIAN)
                                .getInt());
                        i += 4;
                    }
                    case 'q', 'h' -> i += 1;
                    case 'r', 'j' -> i += 4;
                    case 'Q' -> toks.add("PERSID");
                    case '}', '(', 't', 0x85, 0x86, 0x87, 0x89, 0x88, ')', 'R', 'u', 's', 'N' -> {
                        if (op == 't' || op == 0x85 || op == 0x86 || op == 0x87 || op == ')') {
                            toks.add("TUPLE");
                        }
                    }
                    case '.' -> i = p.length;
                    default -> throw new IOException(file + ": unexpected pickle opcode " + op + " at " + (i - 1));
                }
            }
            for (int t = 0; t < toks.size(); t++) {
                if (!(toks.get(t) instanceof String name) || !name.contains(".") || name.startsWith("GLOBAL")) {
                    continue;
                }
                // expect: GLOBAL _rebuild_tensor_v2, storage-tuple with KEY, numel, PERSID, offset, shape...
                int k = t + 1;
                while (k < toks.size() && !"PERSID".equals(toks.get(k))) {
                    k++;
                }
                List<String> strs = new ArrayList<>();
                for (int m = t + 1; m < k; m++) {
                    if (toks.get(m) instanceof String s && !s.startsWith("GLOBAL") && !s.equals("TUPLE")) {
                        strs.add(s);
                    }
                }
                boolean floatStorage = toks.subList(t + 1, k).contains("GLOBAL torch FloatStorage")
                        || toks.subList(0, k).contains("GLOBAL torch FloatStorage");
                String key =
                        strs.stream().filter(s -> s.matches("\\d+")).findFirst().orElse(null);
                if (key == null || !floatStorage) {
                    continue; // tied or reused storage: not needed by these tests
                }
                long offset = (Long) toks.get(k + 1);
                List<Long> shape = new ArrayList<>();
                for (int m = k + 2; m < toks.size() && toks.get(m) instanceof Long v; m++) {
                    shape.add(v);
                }
                long numel = 1;
                for (long d : shape) {
                    numel *= d;
                }
                byte[] data =
                        zip.getInputStream(zip.getEntry(prefix + "data/" + key)).readAllBytes();
                if (offset != 0 || data.length != numel * 4) {
                    continue; // a view into a bigger storage: not what these tests quantize
                }
                long[] sh = shape.stream().mapToLong(Long::longValue).toArray();
                out.put(name, TensorData.ofBytes(name, bitnet.io.DType.F32, data, sh));
            }
        }
        return out;
    }

    private static int indexOf(byte[] a, int from, byte b) {
        for (int i = from; i < a.length; i++) {
            if (a[i] == b) {
                return i;
            }
        }
        throw new IllegalStateException("unterminated pickle line");
    }
}
