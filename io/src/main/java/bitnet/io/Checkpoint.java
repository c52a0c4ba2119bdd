package bitnet.io;

import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/** TEMPORARY minimal version (single model.safetensors); replaced by the io-formats branch. */
public final class Checkpoint {
    private final Path dir;
    private final ModelConfig config;
    private final Map<String, TensorData> tensors;

    private Checkpoint(Path dir, ModelConfig config, Map<String, TensorData> tensors) {
        this.dir = dir;
        this.config = config;
        this.tensors = tensors;
    }

    public static Checkpoint open(Path dir, Arena arena) {
        if (!Files.isDirectory(dir)) {
            throw new BadInputException(dir, "model directory not found");
        }
        ModelConfig cfg = ModelConfig.load(dir.resolve("config.json"));
        Map<String, TensorData> t = new LinkedHashMap<>(SafetensorsFile.open(dir.resolve("model.safetensors"), arena).tensors());
        return new Checkpoint(dir, cfg, Collections.unmodifiableMap(t));
    }

    public Path dir() {
        return dir;
    }

    public ModelConfig config() {
        return config;
    }

    public Map<String, TensorData> tensors() {
        return tensors;
    }

    public boolean has(String name) {
        return tensors.containsKey(name);
    }

    public TensorData get(String name) {
        TensorData t = tensors.get(name);
        if (t == null) {
            throw new BadInputException(dir, "checkpoint has no tensor '" + name + "'");
        }
        return t;
    }

    public String source(String name) {
        return dir.toString();
    }
}
