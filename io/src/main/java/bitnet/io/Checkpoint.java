package bitnet.io;

import bitnet.io.torch.TorchCheckpoint;
import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.BiFunction;

/**
 * A HuggingFace model directory opened for reading: config.json plus its weights, found in this
 * order: model.safetensors, model.safetensors.index.json + shards, pytorch_model.bin,
 * pytorch_model.bin.index.json + shards. Tensors are memory-mapped slices living as long as the
 * arena (never heap copies). Shard indexes are validated (plain file names inside the directory,
 * every shard present, every listed tensor in its shard, no tensor in two shards).
 * It does not interpret tensor names; the model loaders do.
 */
public final class Checkpoint {
    public static final String SAFETENSORS = "model.safetensors";
    public static final String SAFETENSORS_INDEX = "model.safetensors.index.json";
    public static final String TORCH_BIN = "pytorch_model.bin";
    public static final String TORCH_BIN_INDEX = "pytorch_model.bin.index.json";
    private static final List<String> LOOKED_FOR = List.of(SAFETENSORS, SAFETENSORS_INDEX, TORCH_BIN, TORCH_BIN_INDEX);
    private static final long MAX_INDEX = 64L << 20;

    private static final ObjectMapper JSON = new ObjectMapper(JsonFactory.builder()
                    .streamReadConstraints(
                            StreamReadConstraints.builder().maxNestingDepth(16).build())
                    .build())
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);

    private final Path dir;
    private final ModelConfig config;
    private final Path weightFile;
    private final Map<String, TensorData> tensors;
    private final Map<String, Path> sources;

    private Checkpoint(
            Path dir, ModelConfig config, Path weightFile, Map<String, TensorData> tensors, Map<String, Path> sources) {
        this.dir = dir;
        this.config = config;
        this.weightFile = weightFile;
        this.tensors = Collections.unmodifiableMap(tensors);
        this.sources = sources;
    }

    /** Opens a model directory: reads config.json and maps the weights into arena. */
    public static Checkpoint open(Path dir, Arena arena) {
        if (!Files.isDirectory(dir)) {
            throw new BadInputException(
                    dir,
                    Files.exists(dir) ? "not a directory (expected a model directory)" : "model directory not found");
        }
        Path weights = null;
        for (String n : LOOKED_FOR) {
            if (Files.isRegularFile(dir.resolve(n))) {
                weights = dir.resolve(n);
                break;
            }
        }
        if (weights == null) {
            throw new BadInputException(dir, "no weight file (looked for " + String.join(", ", LOOKED_FOR) + ")");
        }
        ModelConfig config = ModelConfig.load(dir.resolve("config.json"));
        Map<String, Path> sources = new LinkedHashMap<>();
        Map<String, TensorData> tensors = readWeights(weights, arena, sources);
        return new Checkpoint(dir, config, weights, tensors, sources);
    }

    /**
     * The weights of a model directory without interpreting config.json (the GGUF export maps
     * architectures the runtime does not load): file order, validated as {@link #open} does.
     */
    public static Map<String, TensorData> openWeights(Path dir, Arena arena) {
        if (!Files.isDirectory(dir)) {
            throw new BadInputException(dir, "model directory not found");
        }
        for (String n : LOOKED_FOR) {
            if (Files.isRegularFile(dir.resolve(n))) {
                return Collections.unmodifiableMap(readWeights(dir.resolve(n), arena, new LinkedHashMap<>()));
            }
        }
        throw new BadInputException(dir, "no weight file (looked for " + String.join(", ", LOOKED_FOR) + ")");
    }

    private static Map<String, TensorData> readWeights(Path weights, Arena arena, Map<String, Path> sources) {
        Map<String, TensorData> tensors = new LinkedHashMap<>();
        String name = weights.getFileName().toString();
        switch (name) {
            case SAFETENSORS ->
                addAll(
                        tensors,
                        sources,
                        weights,
                        SafetensorsFile.open(weights, arena).tensors());
            case TORCH_BIN -> addAll(tensors, sources, weights, TorchCheckpoint.read(weights, arena));
            case SAFETENSORS_INDEX ->
                sharded(
                        weights,
                        tensors,
                        sources,
                        (p, a) -> SafetensorsFile.open(p, a).tensors(),
                        arena);
            default -> sharded(weights, tensors, sources, TorchCheckpoint::read, arena);
        }
        return tensors;
    }

    private static void addAll(
            Map<String, TensorData> tensors, Map<String, Path> sources, Path file, Map<String, TensorData> in) {
        tensors.putAll(in);
        in.keySet().forEach(k -> sources.put(k, file));
    }

    /** A validated shard index: tensor name to shard file name, and the shard files in order. */
    private record Index(Map<String, String> wanted, List<Path> shards) {}

    /**
     * The shard files a {@code *.index.json} lists, in order of first mention, validated (plain
     * file names inside the directory, each present); the one index parser of the project.
     */
    public static List<Path> shardFiles(Path index) {
        return readIndex(index).shards();
    }

    private static Index readIndex(Path index) {
        JsonNode root;
        try {
            if (Files.size(index) > MAX_INDEX) {
                throw new BadInputException(index, "index is larger than " + MAX_INDEX + " bytes");
            }
            root = JSON.readTree(Files.readString(index));
        } catch (IOException e) {
            throw new BadInputException(
                    index,
                    "not valid JSON: " + e.getMessage().lines().findFirst().orElse(""),
                    e);
        }
        JsonNode map = root == null ? null : root.get("weight_map");
        if (map == null || !map.isObject()) {
            throw new BadInputException(index, "'weight_map' is missing or not an object");
        }
        Map<String, String> wanted = new LinkedHashMap<>();
        Set<String> shards = new LinkedHashSet<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = map.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            if (!e.getValue().isTextual()) {
                throw new BadInputException(index, "weight_map['" + e.getKey() + "'] is not a string");
            }
            String shard = e.getValue().asText();
            if (!isPlainFileName(shard)) {
                throw new BadInputException(
                        index,
                        "weight_map['" + e.getKey() + "'] = '" + shard
                                + "' is not a plain file name inside the model directory");
            }
            wanted.put(e.getKey(), shard);
            shards.add(shard);
        }
        if (wanted.isEmpty()) {
            throw new BadInputException(index, "'weight_map' is empty");
        }
        Path dir = index.getParent() == null ? Path.of(".") : index.getParent();
        List<Path> files = new ArrayList<>();
        for (String shard : shards) {
            if (!Files.isRegularFile(dir.resolve(shard))) {
                throw new BadInputException(index, "shard '" + shard + "' is missing from " + dir);
            }
            files.add(dir.resolve(shard));
        }
        return new Index(wanted, files);
    }

    private static void sharded(
            Path index,
            Map<String, TensorData> tensors,
            Map<String, Path> sources,
            BiFunction<Path, Arena, Map<String, TensorData>> reader,
            Arena arena) {
        Index idx = readIndex(index);
        Map<String, String> wanted = idx.wanted();
        for (Path file : idx.shards()) {
            String shard = file.getFileName().toString();
            Map<String, TensorData> in = reader.apply(file, arena);
            for (Map.Entry<String, String> w : wanted.entrySet()) {
                if (w.getValue().equals(shard) && !in.containsKey(w.getKey())) {
                    throw new BadInputException(
                            index,
                            "tensor '" + w.getKey() + "' is listed in shard '" + shard + "' but not found there");
                }
            }
            for (String k : in.keySet()) {
                Path other = sources.get(k);
                if (other != null) {
                    throw new BadInputException(
                            index,
                            "tensor '" + k + "' appears in two shards: '" + other.getFileName() + "' and '" + shard
                                    + "'");
                }
            }
            addAll(tensors, sources, file, in);
        }
    }

    private static boolean isPlainFileName(String s) {
        return !s.isEmpty()
                && s.length() <= 255
                && !s.contains("/")
                && !s.contains("\\")
                && !s.contains("\0")
                && !s.equals(".")
                && !s.equals("..")
                && !s.contains(":");
    }

    public Path dir() {
        return dir;
    }

    public ModelConfig config() {
        return config;
    }

    /** The file the weights were found through (the single file, or the shard index). */
    public Path weightFile() {
        return weightFile;
    }

    /** All tensors, in file order (shards in order of first mention in the index). Unmodifiable. */
    public Map<String, TensorData> tensors() {
        return tensors;
    }

    public TensorData get(String name) {
        TensorData t = tensors.get(name);
        if (t == null) {
            throw new BadInputException(weightFile, "no tensor named '" + name + "'");
        }
        return t;
    }

    public boolean has(String name) {
        return tensors.containsKey(name);
    }

    /** The file a tensor came from (for messages); the weight file itself when the name is unknown. */
    public String source(String name) {
        return String.valueOf(sources.getOrDefault(name, weightFile));
    }
}
