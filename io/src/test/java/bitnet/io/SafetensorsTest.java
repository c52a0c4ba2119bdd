package bitnet.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** safetensors reading of the HF fixture, a writer round trip, and hostile files (each must name the file and the problem). */
class SafetensorsTest {
    @TempDir
    Path tmp;

    static Path fixture(String rel) throws Exception {
        return Path.of(SafetensorsTest.class.getResource("/fixtures/" + rel).toURI());
    }

    /** A file with the given header (unpadded) and data bytes; the length prefix can be overridden. */
    Path file(String name, String header, int dataBytes, Long claimedLength) throws Exception {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(claimedLength == null ? h.length : claimedLength).put(h);
        Path p = tmp.resolve(name);
        Files.write(p, b.array());
        return p;
    }

    void assertBad(Path p, String problem) {
        try (Arena arena = Arena.ofConfined()) {
            BadInputException e = assertThrows(BadInputException.class, () -> SafetensorsFile.open(p, arena));
            assertEquals(p.toString(), e.source());
            assertTrue(e.getMessage().startsWith(p + ": "), e.getMessage());
            assertTrue(e.getMessage().contains(problem), () -> "'" + e.getMessage() + "' lacks '" + problem + "'");
        }
    }

    @Test
    void readsFixture() throws Exception {
        try (Arena arena = Arena.ofConfined()) {
            SafetensorsFile f = SafetensorsFile.open(fixture("gpt2/model.safetensors"), arena);
            assertEquals(28, f.tensors().size());
            TensorData w = f.get("transformer.h.0.attn.c_attn.weight");
            assertEquals(DType.F32, w.dtype());
            assertArrayEquals(new long[] {48, 144}, w.shape()); // GPT-2 Conv1D: (in, out)
            assertTrue(w.data().isNative());
            assertEquals("pt", f.metadata().get("format"));
        }
    }

    @Test
    void hostileFiles() throws Exception {
        byte[] good = Files.readAllBytes(fixture("gpt2/model.safetensors"));
        Path truncated = tmp.resolve("truncated.safetensors");
        Files.write(truncated, Arrays.copyOf(good, good.length / 2));
        assertBad(truncated, "exceed the data area");
        Path tiny = tmp.resolve("tiny.safetensors");
        Files.write(tiny, new byte[5]);
        assertBad(tiny, "shorter than the 8-byte header length");

        String one = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
        assertBad(file("longheader.safetensors", one, 8, 5000L), "header length 5000 exceeds the file");
        assertBad(file("huge.safetensors", one, 8, 200L << 20), "out of range");
        assertBad(file("notjson.safetensors", "{\"a\": [1, 2,", 0, null), "header is not valid JSON");
        assertBad(file("trailing.safetensors", one + "xx", 8, null), "header is not valid JSON");
        assertBad(file("array.safetensors", "[1,2]", 0, null), "header is not a JSON object");
        assertBad(
                file(
                        "overlap.safetensors",
                        "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                                + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
                        12,
                        null),
                "overlap");
        // A short range nested inside a long one, with an empty tensor sorted between them.
        assertBad(
                file(
                        "nested.safetensors",
                        "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
                                + "\"e\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,4]},"
                                + "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}",
                        16,
                        null),
                "overlap");
        assertBad(
                file(
                        "beyond.safetensors",
                        "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}",
                        8,
                        null),
                "exceed the data area");
        assertBad(
                file("dtype.safetensors", "{\"a\":{\"dtype\":\"F128\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, null),
                "unknown dtype 'F128'");
        assertBad(
                file("size.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, null),
                "8 bytes but F32[3] needs 12");
        assertBad(
                file("neg.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8, null),
                "bad shape");
        assertBad(
                file(
                        "overflow.safetensors",
                        "{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296]," + "\"data_offsets\":[0,8]}}",
                        8,
                        null),
                "overflows");
        assertBad(
                file(
                        "dup.safetensors",
                        "{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]},"
                                + "\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}}",
                        0,
                        null),
                "header is not valid JSON");
        // A terabyte tensor: refused from the header, no allocation, no time.
        Path tera = file(
                "tera.safetensors",
                "{\"a\":{\"dtype\":\"F32\",\"shape\":[262144,1048576]," + "\"data_offsets\":[0,1099511627776]}}",
                16,
                null);
        assertTimeoutPreemptively(Duration.ofSeconds(5), () -> assertBad(tera, "exceed the data area"));
        assertBad(tmp.resolve("absent.safetensors"), "file not found");
    }

    @Test
    void writerRoundTrip() throws Exception {
        TensorData a = TensorData.ofFloats("zeta", new float[] {1.5f, -2f, 3.25f, 0f, 1e-8f, -7f}, 2, 3);
        TensorData b =
                TensorData.ofFloats("alpha", new float[] {0.1f, 0.2f, 0.3f}, 3).convert(DType.BF16, null);
        ByteBuffer lb = ByteBuffer.allocate(16)
                .order(ByteOrder.LITTLE_ENDIAN)
                .putLong(-5)
                .putLong(Long.MAX_VALUE);
        TensorData c = TensorData.ofBytes("mid.ids", DType.I64, lb.array(), 2);
        TensorData empty = TensorData.ofFloats("empty", new float[0], 0, 4);
        Path p = tmp.resolve("rt.safetensors");
        SafetensorsWriter.write(p, List.of(a, b, c, empty), Map.of("format", "pt", "b", "x"));
        byte[] raw = Files.readAllBytes(p);
        long hl = ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
        assertEquals(0, hl % 8, "header padded to 8 bytes");
        assertEquals(raw.length, 8 + hl + 24 + 6 + 16);
        try (Arena arena = Arena.ofConfined()) {
            SafetensorsFile f = SafetensorsFile.open(p, arena);
            assertEquals(
                    List.of("alpha", "empty", "mid.ids", "zeta"),
                    List.copyOf(f.tensors().keySet()),
                    "keys sorted");
            assertEquals(Map.of("format", "pt", "b", "x"), f.metadata());
            assertArrayEquals(a.toFloatArray(), f.get("zeta").toFloatArray());
            assertArrayEquals(new long[] {2, 3}, f.get("zeta").shape());
            assertEquals(DType.BF16, f.get("alpha").dtype());
            assertEquals(-1, f.get("alpha").data().mismatch(b.data()));
            assertArrayEquals(new long[] {-5, Long.MAX_VALUE}, f.get("mid.ids").toLongArray());
            assertArrayEquals(new long[] {0, 4}, f.get("empty").shape());
            // Data laid out in key order from offset 0.
            assertArrayEquals(
                    b.data().toArray(java.lang.foreign.ValueLayout.JAVA_BYTE),
                    Arrays.copyOfRange(raw, (int) (8 + hl), (int) (8 + hl + 6)));
        }
        assertThrows(
                IllegalArgumentException.class,
                () -> SafetensorsWriter.write(tmp.resolve("d.safetensors"), List.of(a, a), null));
    }

    @Test
    void writerCopiesFixture() throws Exception {
        Path p = tmp.resolve("copy.safetensors");
        try (Arena arena = Arena.ofConfined()) {
            SafetensorsFile src = SafetensorsFile.open(fixture("gpt2/model.safetensors"), arena);
            SafetensorsWriter.write(p, src.tensors().values(), src.metadata());
            SafetensorsFile dst = SafetensorsFile.open(p, arena);
            assertEquals(src.tensors().keySet(), dst.tensors().keySet());
            for (TensorData t : src.tensors().values()) {
                assertEquals(-1, dst.get(t.name()).data().mismatch(t.data()), t.name());
            }
            assertEquals(
                    Files.size(fixture("gpt2/model.safetensors")) - 8 - readLen(fixture("gpt2/model.safetensors")),
                    Files.size(p) - 8 - readLen(p),
                    "same data area size");
        }
    }

    static long readLen(Path p) throws Exception {
        byte[] b = Arrays.copyOf(Files.readAllBytes(p), 8);
        return ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).getLong();
    }
}
