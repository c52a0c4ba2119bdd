package bitnet.io;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import bitnet.io.tokenizer.Tokenizer;
import bitnet.io.torch.PickleBuilder;
import bitnet.io.torch.ZipBuilder;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

/**
 * Files crafted to hurt the reader, each opened through the public entry point a user's model
 * directory goes through (Checkpoint.open, Tokenizer.load): every one must fail with
 * BadInputException naming the problem within 2 s, without a large allocation.
 */
class HostileFilesTest {
    @TempDir
    Path tmp;

    static final String CONFIG = "{\"model_type\":\"llama\",\"architectures\":[\"LlamaForCausalLM\"],\"vocab_size\":8,"
            + "\"hidden_size\":4,\"num_hidden_layers\":1,\"num_attention_heads\":1,\"intermediate_size\":8,"
            + "\"max_position_embeddings\":16,\"rms_norm_eps\":1e-5}";

    Path modelDir(String name) throws IOException {
        Path d = tmp.resolve(name);
        Files.createDirectories(d);
        Files.writeString(d.resolve("config.json"), CONFIG);
        return d;
    }

    static void failsFast(Executable open, String... parts) {
        BadInputException e =
                assertTimeoutPreemptively(Duration.ofSeconds(2), () -> assertThrows(BadInputException.class, open));
        for (String p : parts) {
            assertTrue(e.getMessage().contains(p), () -> "'" + e.getMessage() + "' lacks '" + p + "'");
        }
    }

    @Test
    void safetensorsClaimingATerabyteTensor() throws IOException {
        Path d = modelDir("tera");
        String h = "{\"model.embed_tokens.weight\":{\"dtype\":\"F32\",\"shape\":[262144,1048576],"
                + "\"data_offsets\":[0,1099511627776]}}";
        byte[] hb = h.getBytes(StandardCharsets.US_ASCII);
        ByteBuffer b = ByteBuffer.allocate(8 + hb.length + 64).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(hb.length).put(hb);
        Files.write(d.resolve("model.safetensors"), b.array());
        try (Arena arena = Arena.ofShared()) {
            failsFast(() -> Checkpoint.open(d, arena), "model.safetensors", "exceed the data area");
        }
    }

    @Test
    void zipBombNamedPytorchModelBin() throws IOException {
        Path d = modelDir("bomb");
        // 64 MB of zeros deflate to ~64 KB; the entry claims 4 GB (zip64), then a liar claiming 100 bytes.
        byte[] zeros = new byte[64 << 20];
        Files.write(
                d.resolve("pytorch_model.bin"),
                new ZipBuilder().deflated("archive/data.pkl", zeros, 1L << 32).build());
        try (Arena arena = Arena.ofShared()) {
            failsFast(() -> Checkpoint.open(d, arena), "pytorch_model.bin", "declares 4294967296 bytes");
        }
        Files.write(
                d.resolve("pytorch_model.bin"),
                new ZipBuilder().deflated("archive/data.pkl", zeros, 100).build());
        try (Arena arena = Arena.ofShared()) {
            failsFast(() -> Checkpoint.open(d, arena), "inflates past its declared size of 100");
        }
    }

    @Test
    void pickleCallingOsSystem() throws IOException {
        Path d = modelDir("pickle");
        Path marker = tmp.resolve("pwned");
        byte[] pk = new PickleBuilder()
                .proto(2)
                .global("os", "system")
                .str("touch " + marker)
                .op(0x85, 'R', '.')
                .bytes();
        Files.write(
                d.resolve("pytorch_model.bin"),
                new ZipBuilder().stored("archive/data.pkl", pk).build());
        try (Arena arena = Arena.ofShared()) {
            failsFast(() -> Checkpoint.open(d, arena), "forbidden global 'os.system'");
        }
        assertTrue(Files.notExists(marker), "the command must never run");
    }

    @Test
    void tokenizerWithATenMegabyteToken() throws IOException {
        String big = "a".repeat(10 << 20);
        Path vocabToken = tmp.resolve("vocab-token.json");
        Files.writeString(
                vocabToken, "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"" + big + "\":1},\"merges\":[]}}");
        failsFast(() -> Tokenizer.load(vocabToken), "vocab-token.json", "exceeds the maximum");
        Path longToken = tmp.resolve("long-token.json");
        Files.writeString(
                longToken,
                "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"" + "b".repeat(2000) + "\":1},\"merges\":[]}}");
        failsFast(() -> Tokenizer.load(longToken), "BPE vocab token of 2000 chars exceeds the limit of 1024");
        Path addedToken = tmp.resolve("added-token.json");
        Files.writeString(
                addedToken,
                "{\"added_tokens\":[{\"id\":1,\"content\":\"" + big + "\"}],"
                        + "\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[]}}");
        failsFast(() -> Tokenizer.load(addedToken), "added-token.json", "longer than 1024");
        // A tiny file naming id 2^31-1 would size the id table at 16 GB.
        Path hugeId = tmp.resolve("huge-id.json");
        Files.writeString(hugeId, "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":2147483647},\"merges\":[]}}");
        failsFast(() -> Tokenizer.load(hugeId), "vocab id 2147483647 exceeds the limit");
    }

    @Test
    void packedFileWithAnEmptyMatrixOfHugeRowCount() {
        // Found while fuzzing: a ternary entry of shape (2^31-1, 0) needs no data bytes, and decoding
        // it looped over 2^31 empty rows (about 1 s per call); such an entry is now refused on open.
        String tensors =
                "{\"w\":{\"kind\":\"ternary\",\"shape\":[2147483647,0],\"dtype\":\"F32\",\"scale\":\"per_tensor\"}}";
        String h =
                "{\"__metadata__\":{\"format\":\"bitnet-ternary\",\"format_version\":\"1\",\"packing\":\"2bit\",\"tensors\":"
                        + com.fasterxml.jackson.databind.node.TextNode.valueOf(tensors) + "},"
                        + "\"w.ternary\":{\"dtype\":\"U8\",\"shape\":[2147483647,0],\"data_offsets\":[0,0]},"
                        + "\"w.scale\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";
        byte[] hb = h.getBytes(StandardCharsets.US_ASCII);
        ByteBuffer b = ByteBuffer.allocate(8 + hb.length + 4).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(hb.length).put(hb).putFloat(1f);
        failsFast(
                () -> bitnet.io.packed.PackedModel.parse(
                        Path.of("empty-matrix"), java.lang.foreign.MemorySegment.ofArray(b.array())),
                "must be 2-D and non-empty");
    }
}
