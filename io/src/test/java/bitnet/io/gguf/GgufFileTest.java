package bitnet.io.gguf;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import bitnet.io.BadInputException;
import bitnet.io.gguf.GgufWriter.ValueType;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Writer and reader round trip; the reader's refusals name the file. */
class GgufFileTest {
    @TempDir
    Path dir;

    static GgufWriter sample() {
        byte[] codes = new byte[2 * 256];
        for (int i = 0; i < codes.length; i++) {
            codes[i] = (byte) (i % 3 - 1);
        }
        float[] f = {1f, -2.5f, 3.25f};
        return new GgufWriter()
                .putString("general.architecture", "llama")
                .putU32("llama.block_count", 2)
                .putF32("llama.rope.freq_base", 10000f)
                .putBool("x.flag", true)
                .putI32("x.neg", -7)
                .putArray("tokenizer.ggml.tokens", ValueType.STRING, List.of("a", "b", "é"))
                .putArray("x.pattern", ValueType.BOOL, List.of(true, false))
                .addTensor("norm", GgmlType.F32, new long[] {3}, () -> le(f))
                .addTensor(
                        "w",
                        GgmlType.TQ2_0,
                        new long[] {256, 2},
                        () -> GgufBlocks.encodeTernary(GgmlType.TQ2_0, codes, new float[] {0.5f, 0.25f}, 2, 256));
    }

    static byte[] le(float[] f) {
        ByteBuffer b = ByteBuffer.allocate(4 * f.length).order(ByteOrder.LITTLE_ENDIAN);
        for (float x : f) {
            b.putFloat(x);
        }
        return b.array();
    }

    @Test
    void roundTripKeepsMetadataTensorsAndAlignment() throws IOException {
        Path p = dir.resolve("m.gguf");
        long size = sample().write(p);
        assertEquals(size, Files.size(p));
        assertFalse(Files.exists(dir.resolve("m.gguf.partial")));
        try (Arena a = Arena.ofConfined()) {
            GgufFile g = GgufFile.open(p, a);
            assertEquals(3, g.version());
            assertEquals("llama", g.get("general.architecture"));
            assertEquals(2L, g.get("llama.block_count"));
            assertEquals(10000f, g.get("llama.rope.freq_base"));
            assertEquals(true, g.get("x.flag"));
            assertEquals(-7L, g.get("x.neg"));
            assertEquals(List.of("a", "b", "é"), g.get("tokenizer.ggml.tokens"));
            assertEquals(List.of(true, false), g.get("x.pattern"));
            assertEquals(32L, g.get("general.alignment"));
            assertArrayEquals(new float[] {1f, -2.5f, 3.25f}, g.tensor("norm").toFloats());
            GgufFile.TensorInfo w = g.tensor("w");
            assertArrayEquals(new long[] {256, 2}, w.ne());
            assertEquals(GgmlType.TQ2_0, w.type());
            assertEquals(0, w.offset() % 32);
            float[] v = w.toFloats();
            for (int i = 0; i < v.length; i++) {
                assertEquals((i < 256 ? 0.5f : 0.25f) * (i % 3 - 1), v[i]);
            }
        }
    }

    @Test
    void q2_0TensorRoundTripsThroughTheReader() throws IOException {
        byte[] codes = new byte[3 * 192];
        for (int i = 0; i < codes.length; i++) {
            codes[i] = (byte) ((i * 7) % 3 - 1);
        }
        float[] s = {0.5f, 0.25f, 0.0625f};
        Path p = dir.resolve("q2.gguf");
        new GgufWriter()
                .putString("general.architecture", "llama")
                .addTensor(
                        "w",
                        GgmlType.Q2_0,
                        new long[] {192, 3},
                        () -> GgufBlocks.encodeTernary(GgmlType.Q2_0, codes, s, 3, 192))
                .write(p);
        assertEquals(42, GgmlType.Q2_0.id());
        try (Arena a = Arena.ofConfined()) {
            GgufFile.TensorInfo w = GgufFile.open(p, a).tensor("w");
            assertEquals(GgmlType.Q2_0, w.type());
            assertArrayEquals(new long[] {192, 3}, w.ne());
            assertEquals(3 * 3 * 18, w.data().byteSize());
            float[] v = w.toFloats();
            for (int i = 0; i < v.length; i++) {
                assertEquals(s[i / 192] * codes[i], v[i], "weight " + i);
            }
        }
    }

    private static byte[] image(Path dir) throws IOException {
        Path p = dir.resolve("img.gguf");
        sample().write(p);
        return Files.readAllBytes(p);
    }

    private static BadInputException parseFails(byte[] b) {
        return assertThrows(
                BadInputException.class, () -> GgufFile.parse(Path.of("bad.gguf"), MemorySegment.ofArray(b)));
    }

    private static void assertMessage(byte[] b, String fragment) {
        String m = parseFails(b).getMessage();
        assertTrue(m.startsWith("bad.gguf: ") && m.contains(fragment), m);
    }

    @Test
    void refusesBadMagicVersionTruncationAndHugeCounts() throws IOException {
        byte[] ok = image(dir);
        byte[] magic = ok.clone();
        magic[0] = 'X';
        assertMessage(magic, "bad.gguf: not a GGUF file");
        byte[] version = ok.clone();
        version[4] = 9;
        assertMessage(version, "unsupported GGUF version 9");
        byte[] cut = java.util.Arrays.copyOf(ok, ok.length - 40);
        assertMessage(cut, "outside the data area");
        byte[] header = java.util.Arrays.copyOf(ok, 120);
        String m = parseFails(header).getMessage(); // counts are checked against the bytes left first
        assertTrue(m.contains("truncated") || m.contains("is impossible for a file of 120 bytes"), m);
        byte[] count = ok.clone();
        count[8 + 7] = 0x7f; // tensor count 2^62-ish
        assertMessage(count, "tensor count");
        parseFails(new byte[3]);
    }

    @Test
    void refusesUnknownTensorTypeAndMisalignedOffsets() throws IOException {
        byte[] ok = image(dir);
        // the tensor infos end just before the data area; 'w' is the last: ..., type u32, offset u64
        int at = indexOf(ok, "w".getBytes()) + 1 + 4 + 16; // name, n_dims, two dims
        byte[] type = ok.clone();
        type[at] = 99;
        assertMessage(type, "ggml type 99");
        byte[] off = ok.clone();
        off[at + 4] += 1;
        assertMessage(off, "alignment");
    }

    private static int indexOf(byte[] hay, byte[] needle) {
        // the tensor name 'w' is stored as u64 length 1 then 'w'
        for (int i = 8; i < hay.length; i++) {
            if (hay[i] == needle[0] && hay[i - 8] == 1 && hay[i - 7] == 0 && hay[i - 1] == 0) {
                return i;
            }
        }
        throw new AssertionError("not found");
    }

    @Test
    void writerRefusesDuplicatesAndWrongSizes() {
        GgufWriter w = new GgufWriter().putU32("k", 1);
        assertThrows(IllegalArgumentException.class, () -> w.putU32("k", 2));
        assertThrows(
                IllegalArgumentException.class,
                () -> w.addTensor("t", GgmlType.Q8_0, new long[] {33}, () -> new byte[0]));
        w.addTensor("t", GgmlType.F32, new long[] {2}, () -> new byte[4]);
        assertThrows(IllegalStateException.class, () -> w.write(dir.resolve("x.gguf")));
        assertFalse(Files.exists(dir.resolve("x.gguf")));
        assertFalse(Files.exists(dir.resolve("x.gguf.partial")));
    }
}
