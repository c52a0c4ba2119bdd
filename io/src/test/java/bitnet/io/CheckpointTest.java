package bitnet.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

/** Model directories: each weight layout, the order of preference, and hostile shard indexes. */
class CheckpointTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;

    private int copies;

    static Path fixture(String rel) throws Exception {
        return Path.of(CheckpointTest.class.getResource("/fixtures/" + rel).toURI());
    }

    static BadInputException bad(Executable ex, String... parts) {
        BadInputException e = assertThrows(BadInputException.class, ex);
        for (String part : parts) {
            assertTrue(e.getMessage().contains(part), () -> "'" + e.getMessage() + "' lacks '" + part + "'");
        }
        return e;
    }

    /** A copy of a fixture directory in tmp, to be tampered with. */
    Path copy(String name) throws Exception {
        Path dst = tmp.resolve(name + "-" + (copies++));
        Files.createDirectories(dst);
        try (Stream<Path> s = Files.list(fixture(name))) {
            for (Path p : s.toList()) {
                Files.copy(p, dst.resolve(p.getFileName()));
            }
        }
        return dst;
    }

    @Test
    void singleSafetensors() throws Exception {
        Path dir = fixture("gpt2");
        try (Arena arena = Arena.ofConfined()) {
            Checkpoint c = Checkpoint.open(dir, arena);
            assertEquals(dir, c.dir());
            assertEquals(ModelConfig.Family.GPT2, c.config().family());
            assertEquals(28, c.tensors().size());
            assertTrue(c.has("transformer.wte.weight"));
            assertFalse(c.has("lm_head.weight"));
            TensorData wte = c.get("transformer.wte.weight");
            assertArrayEquals(new long[] {300, 48}, wte.shape());
            assertTrue(wte.data().isNative(), "a mapped slice, not a heap copy");
            assertEquals(dir.resolve("model.safetensors").toString(), c.source("transformer.wte.weight"));
            bad(
                    () -> c.get("lm_head.weight"),
                    dir.resolve("model.safetensors").toString(),
                    "no tensor named 'lm_head.weight'");
            assertThrows(UnsupportedOperationException.class, () -> c.tensors().remove("transformer.wte.weight"));
        }
    }

    @Test
    void torchBin() throws Exception {
        Path dir = fixture("gpt2-bin");
        try (Arena arena = Arena.ofConfined()) {
            Checkpoint c = Checkpoint.open(dir, arena);
            assertEquals(29, c.tensors().size());
            assertEquals(dir.resolve("pytorch_model.bin").toString(), c.source("lm_head.weight"));
            Map<String, TensorData> want = SafetensorsFile.open(fixture("gpt2-bin-expected.safetensors"), arena)
                    .tensors();
            for (TensorData w : want.values()) {
                assertEquals(-1, c.get(w.name()).data().mismatch(w.data()), w.name());
            }
        }
    }

    @Test
    void shardedSafetensors() throws Exception {
        Path dir = fixture("llama3rope-bf16-sharded");
        JsonNode map = JSON.readTree(dir.resolve("model.safetensors.index.json").toFile())
                .get("weight_map");
        try (Arena arena = Arena.ofConfined()) {
            Checkpoint c = Checkpoint.open(dir, arena);
            Set<String> listed = new LinkedHashSet<>();
            map.fieldNames().forEachRemaining(listed::add);
            assertEquals(20, listed.size());
            assertEquals(listed, c.tensors().keySet());
            for (String n : listed) {
                assertEquals(dir.resolve(map.get(n).asText()).toString(), c.source(n), n);
                assertEquals(DType.BF16, c.get(n).dtype());
                assertTrue(c.get(n).data().isNative());
            }
            assertEquals("llama3", c.config().rope().type());
            assertArrayEquals(
                    new long[] {300, 64}, c.get("model.embed_tokens.weight").shape());
            bad(() -> c.get("lm_head.weight"), "model.safetensors.index.json", "no tensor named");
        }
    }

    @Test
    void shardedTorchBin() throws Exception {
        Path dir = tmp.resolve("binsharded");
        Files.createDirectories(dir);
        Files.copy(fixture("gpt2-bin/config.json"), dir.resolve("config.json"));
        Files.copy(fixture("gpt2-bin/pytorch_model.bin"), dir.resolve("pytorch_model-00001-of-00001.bin"));
        try (Arena arena = Arena.ofConfined()) {
            Map<String, TensorData> want = SafetensorsFile.open(fixture("gpt2-bin-expected.safetensors"), arena)
                    .tensors();
            ObjectNode idx = JSON.createObjectNode();
            ObjectNode wm = idx.putObject("weight_map");
            want.keySet().forEach(k -> wm.put(k, "pytorch_model-00001-of-00001.bin"));
            Files.writeString(dir.resolve("pytorch_model.bin.index.json"), idx.toString());
            Checkpoint c = Checkpoint.open(dir, arena);
            assertEquals(want.keySet(), c.tensors().keySet());
            assertEquals(dir.resolve("pytorch_model.bin.index.json"), c.weightFile());
        }
    }

    @Test
    void safetensorsIsPreferredOverBin() throws Exception {
        Path dir = copy("gpt2");
        Files.copy(fixture("gpt2-bin/pytorch_model.bin"), dir.resolve("pytorch_model.bin"));
        try (Arena arena = Arena.ofConfined()) {
            Checkpoint c = Checkpoint.open(dir, arena);
            assertEquals(dir.resolve("model.safetensors"), c.weightFile());
            assertEquals(28, c.tensors().size());
        }
    }

    @Test
    void missingDirectoryOrWeights() throws Exception {
        try (Arena arena = Arena.ofConfined()) {
            Path none = tmp.resolve("nope");
            BadInputException e = bad(() -> Checkpoint.open(none, arena), "model directory not found");
            assertEquals(none.toString(), e.source());
            Path empty = tmp.resolve("empty");
            Files.createDirectories(empty);
            Files.copy(fixture("gpt2/config.json"), empty.resolve("config.json"));
            bad(
                    () -> Checkpoint.open(empty, arena),
                    empty.toString(),
                    "no weight file",
                    "model.safetensors,",
                    "model.safetensors.index.json",
                    "pytorch_model.bin,",
                    "pytorch_model.bin.index.json");
            Path noConfig = tmp.resolve("noconfig");
            Files.createDirectories(noConfig);
            Files.copy(fixture("gpt2/model.safetensors"), noConfig.resolve("model.safetensors"));
            bad(() -> Checkpoint.open(noConfig, arena), "config.json", "file not found");
            bad(() -> Checkpoint.open(fixture("gpt2/config.json"), arena), "not a directory");
        }
    }

    /** Rewrites the sharded fixture's index with one weight_map entry changed (or the whole map replaced). */
    Path tamperedIndex(String tensor, String shard, String wholeMap) throws Exception {
        Path dir = copy("llama3rope-bf16-sharded");
        Path idx = dir.resolve("model.safetensors.index.json");
        ObjectNode root = (ObjectNode) JSON.readTree(idx.toFile());
        if (wholeMap != null) {
            root.set("weight_map", JSON.readTree(wholeMap));
        } else {
            ((ObjectNode) root.get("weight_map")).put(tensor, shard);
        }
        Files.writeString(idx, root.toString());
        return dir;
    }

    @Test
    void hostileShardIndexes() throws Exception {
        String idx = "model.safetensors.index.json";
        try (Arena arena = Arena.ofConfined()) {
            Path traversal = tamperedIndex("model.norm.weight", "../gpt2/model.safetensors", null);
            bad(() -> Checkpoint.open(traversal, arena), idx, "'../gpt2/model.safetensors' is not a plain file name");
            Path sub = tamperedIndex("model.norm.weight", "sub/x.safetensors", null);
            bad(() -> Checkpoint.open(sub, arena), "not a plain file name");
            Path dots = tamperedIndex("model.norm.weight", "..", null);
            bad(() -> Checkpoint.open(dots, arena), "not a plain file name");
            Path missing = tamperedIndex("model.norm.weight", "model-00004-of-00003.safetensors", null);
            bad(() -> Checkpoint.open(missing, arena), idx, "shard 'model-00004-of-00003.safetensors' is missing");
            Path wrong = tamperedIndex("model.norm.weight", "model-00001-of-00003.safetensors", null);
            bad(
                    () -> Checkpoint.open(wrong, arena),
                    "tensor 'model.norm.weight' is listed in shard 'model-00001-of-00003.safetensors' but not found");
            Path notString = tamperedIndex(null, null, "{\"model.norm.weight\": 3}");
            bad(() -> Checkpoint.open(notString, arena), "weight_map['model.norm.weight'] is not a string");
            Path notObject = tamperedIndex(null, null, "[\"model-00001-of-00003.safetensors\"]");
            bad(() -> Checkpoint.open(notObject, arena), "'weight_map' is missing or not an object");
            Path emptyMap = tamperedIndex(null, null, "{}");
            bad(() -> Checkpoint.open(emptyMap, arena), "'weight_map' is empty");
            // The same tensor stored in two shards: list a copy of shard 1 for one tensor.
            Path twice = tamperedIndex("model.embed_tokens.weight", "copy.safetensors", null);
            Files.copy(twice.resolve("model-00001-of-00003.safetensors"), twice.resolve("copy.safetensors"));
            bad(() -> Checkpoint.open(twice, arena), "appears in two shards");
            Path garbage = copy("llama3rope-bf16-sharded");
            Files.writeString(garbage.resolve(idx), "{\"weight_map\": ");
            bad(() -> Checkpoint.open(garbage, arena), idx, "not valid JSON");
        }
    }

    @Test
    void tiedStorageInBinSharesBytes() throws Exception {
        try (Arena arena = Arena.ofConfined()) {
            Checkpoint c = Checkpoint.open(fixture("gpt2-bin"), arena);
            assertEquals(
                    c.get("transformer.wte.weight").data().address(),
                    c.get("lm_head.weight").data().address());
            assertSame(c.tensors(), c.tensors());
        }
    }
}
