package bitnet.io.packed;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import bitnet.io.BadInputException;
import bitnet.io.DType;
import bitnet.io.Packing;
import bitnet.io.SafetensorsFile;
import bitnet.io.SafetensorsWriter;
import bitnet.io.TensorData;
import bitnet.io.packed.PackedModelFormat.Kind;
import java.lang.foreign.Arena;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PackedModelFormatTest {
    @TempDir
    Path dir;

    private static byte[] codes(int n, Random r) {
        byte[] q = new byte[n];
        for (int i = 0; i < n; i++) {
            q[i] = (byte) (r.nextInt(3) - 1);
        }
        return q;
    }

    private static float[] floats(int n, Random r) {
        float[] f = new float[n];
        for (int i = 0; i < n; i++) {
            f[i] = (float) r.nextGaussian();
        }
        return f;
    }

    private Path writeSample(Packing packing, byte[] q1, float[] s1, byte[] q2, float[] emb, float[] norm)
            throws Exception {
        Path f = dir.resolve(PackedModelFormat.FILE_NAME);
        PackedModelFormat.writer(packing)
                .addTernary("a.weight", 7, 13, DType.BF16, q1, s1, true)
                .addTernary("b.weight", 3, 5, DType.F32, q2, new float[] {0.25f}, false)
                .addInt8(TensorData.ofFloats("emb.weight", emb, 11, 6))
                .addF16(TensorData.ofFloats("lm_head.weight", emb, 11, 6))
                .addPlain(TensorData.ofFloats("norm.weight", norm, norm.length))
                .write(f, Map.of("method", "seed:0.1"));
        return f;
    }

    @Test
    void roundTripBothPackings() throws Exception {
        for (Packing packing : Packing.values()) {
            Random r = new Random(7);
            byte[] q1 = codes(7 * 13, r), q2 = codes(15, r);
            float[] s1 = floats(7, r), emb = floats(66, r), norm = floats(5, r);
            Path f = writeSample(packing, q1, s1, q2, emb, norm);
            try (Arena arena = Arena.ofConfined()) {
                PackedModel m = PackedModelFormat.open(f, arena);
                assertEquals(packing, m.packing());
                assertEquals(List.of("a.weight", "b.weight", "emb.weight", "lm_head.weight", "norm.weight"), m.names());
                assertEquals("seed:0.1", m.extraMetadata().get("method"));
                PackedModel.Entry a = m.entry("a.weight");
                assertEquals(Kind.TERNARY, a.kind());
                assertArrayEquals(new long[] {7, 13}, a.shape());
                assertEquals(DType.BF16, a.dtype());
                assertTrue(a.perRow());
                assertArrayEquals(q1, m.ternaryCodes("a.weight"));
                PackedModel.Ternary t = m.ternary("a.weight");
                assertEquals(7L * packing.bytesPerRow(13), t.packed().byteSize());
                assertArrayEquals(s1, t.scales());
                float[] da = m.dequantize("a.weight").toFloatArray();
                for (int i = 0; i < da.length; i++) {
                    assertEquals(s1[i / 13] * q1[i], da[i]);
                }
                assertEquals(false, m.entry("b.weight").perRow());
                float[] db = m.dequantize("b.weight").toFloatArray();
                for (int i = 0; i < db.length; i++) {
                    assertEquals(0.25f * q2[i], db[i]);
                }
                // int8: error at most half a step per element
                PackedModel.Int8 e8 = m.int8("emb.weight");
                float[] de = m.dequantize("emb.weight").toFloatArray();
                for (int i = 0; i < de.length; i++) {
                    assertEquals(emb[i], de[i], e8.scales()[i / 6] * 0.5f + 1e-7f);
                }
                assertEquals(DType.F16, m.plain("lm_head.weight").dtype());
                float[] dl = m.dequantize("lm_head.weight").toFloatArray();
                for (int i = 0; i < dl.length; i++) {
                    assertEquals(Float.float16ToFloat(Float.floatToFloat16(emb[i])), dl[i]);
                }
                assertArrayEquals(norm, m.dequantize("norm.weight").toFloatArray());
                assertEquals(Kind.PLAIN, m.entry("norm.weight").kind());
            }
        }
    }

    @Test
    void int8ScaleIsAbsmaxOver127() {
        float[] w = {1f, -2.54f, 0.5f, 0f, 0f, 0f};
        byte[] q = new byte[6];
        float[] s = new float[2];
        PackedModelFormat.quantizeInt8(w, 2, 3, q, s);
        assertEquals(2.54f / 127f, s[0]);
        assertEquals(0f, s[1]);
        assertArrayEquals(new byte[] {50, -127, 25, 0, 0, 0}, q);
    }

    /** llama.cpp's Q4_0 rule (ggml-quants.c quantize_row_q4_0_ref) worked by hand on one block: x_i = i - 10. */
    @Test
    void int4IsQ4_0() {
        float[] w = new float[32];
        for (int i = 0; i < 32; i++) {
            w[i] = i - 10;
        }
        byte[] codes = new byte[16];
        short[] d = new short[1];
        PackedModelFormat.quantizeInt4(w, 1, 32, codes, d);
        // max = 21 (i = 31) -> d = 21 / -8 = -2.625, id = 1/d; q = min(15, (int) (x * id + 8.5))
        assertEquals(-2.625f, Float.float16ToFloat(d[0]));
        float[] v = PackedModelFormat.dequantizeInt4(codes, d, 1, 32);
        assertEquals(21f, v[31]); // q 0: (0 - 8) * -2.625
        assertEquals(-10.5f, v[0]); // -10 * id + 8.5 = 12.31 -> 12
        assertEquals(0f, Math.abs(v[10])); // 8.5 -> 8: (8 - 8) * d, -0
        assertEquals(10.5f, v[21]); // 11 * id + 8.5 = 4.31 -> 4
        assertEquals(-2.625f, v[7]); // -3 * id + 8.5 = 9.64 -> 9
    }

    @Test
    void rejectsBadInt4Entries() throws Exception {
        TensorData codes = TensorData.ofBytes("e.int4", DType.U8, new byte[2 * 16], 2, 16);
        TensorData scales = TensorData.ofBytes("e.int4_scale", DType.F16, new byte[2 * 2], 2, 1);
        String ok = "{\"e\":{\"kind\":\"int4\",\"shape\":[2,32],\"dtype\":\"F32\",\"scale\":\"per_block\"}}";
        try (Arena arena = Arena.ofConfined()) {
            Path f = dir.resolve("ok.safetensors");
            SafetensorsWriter.write(f, List.of(codes, scales), meta("2bit", ok));
            assertEquals(Kind.INT4, PackedModelFormat.open(f, arena).entry("e").kind());
        }
        expectBad(List.of(codes, scales), meta("2bit", ok.replace("per_block", "per_row")), "per_block");
        expectBad(List.of(codes, scales), meta("2bit", ok.replace("[2,32]", "[2,30]")), "multiple of 32");
        expectBad(List.of(codes), meta("2bit", ok), "lacks its part 'e.int4_scale'");
    }

    @Test
    void int4RoundTripsThroughTheFileAndGguf() throws Exception {
        Random r = new Random(5);
        int rows = 3, cols = 64;
        float[] emb = floats(rows * cols, r);
        Path f = dir.resolve(PackedModelFormat.FILE_NAME);
        PackedModelFormat.writer(Packing.TWO_BIT)
                .addInt4(TensorData.ofFloats("emb.weight", emb, rows, cols))
                .write(f, Map.of());
        byte[] codes = new byte[rows * cols / 2];
        short[] d = new short[rows * cols / 32];
        PackedModelFormat.quantizeInt4(emb, rows, cols, codes, d);
        float[] want = PackedModelFormat.dequantizeInt4(codes, d, rows, cols);
        try (Arena arena = Arena.ofConfined()) {
            PackedModel m = PackedModelFormat.open(f, arena);
            assertEquals(Kind.INT4, m.entry("emb.weight").kind());
            PackedModel.Int4 t = m.int4("emb.weight");
            assertArrayEquals(codes, t.codes());
            assertArrayEquals(d, t.scale16());
            assertArrayEquals(want, m.dequantize("emb.weight").toFloatArray());
        }
        for (int i = 0; i < want.length; i++) {
            float di = Math.abs(Float.float16ToFloat(d[i / 32]));
            // half a step, or a whole one where a code clamps at 15 (the side opposite the block's max)
            assertTrue(Math.abs(want[i] - emb[i]) <= 1.001f * di + 1e-6f, "element " + i);
        }
        // the GGUF Q4_0 blocks hold the same values, bit for bit
        byte[] q40 = bitnet.io.gguf.GgufBlocks.encodeQ4_0(codes, d, rows, cols);
        assertArrayEquals(want, bitnet.io.gguf.GgufBlocks.decode(bitnet.io.gguf.GgmlType.Q4_0, q40, rows * cols));
    }

    /** Writes a raw safetensors file with the given tensors and metadata, then expects open to fail naming the file. */
    private void expectBad(List<TensorData> tensors, Map<String, String> meta, String fragment) throws Exception {
        Path f = dir.resolve("bad.safetensors");
        SafetensorsWriter.write(f, tensors, meta);
        try (Arena arena = Arena.ofConfined()) {
            BadInputException e = assertThrows(BadInputException.class, () -> PackedModelFormat.open(f, arena));
            assertTrue(e.getMessage().contains(f.toString()), e.getMessage());
            assertTrue(e.getMessage().contains(fragment), e.getMessage());
        }
    }

    private static Map<String, String> meta(String packing, String tensorsJson) {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("format", "bitnet-ternary");
        m.put("format_version", "1");
        m.put("packing", packing);
        m.put("tensors", tensorsJson);
        return m;
    }

    @Test
    void rejectsCorruptFiles() throws Exception {
        String ok = "{\"w\":{\"kind\":\"ternary\",\"shape\":[2,5],\"dtype\":\"F32\",\"scale\":\"per_row\"}}";
        List<TensorData> good = new ArrayList<>(List.of(
                TensorData.ofBytes("w.ternary", DType.U8, new byte[] {0x55, 0x55, 0x55, 0x55}, 2, 2),
                TensorData.ofFloats("w.scale", new float[] {1f, 2f}, 2)));
        // sanity: the hand-built file opens
        Path f = dir.resolve("good.safetensors");
        SafetensorsWriter.write(f, good, meta("2bit", ok));
        try (Arena arena = Arena.ofConfined()) {
            assertArrayEquals(
                    new float[10],
                    PackedModelFormat.open(f, arena).dequantize("w").toFloatArray());
        }
        Map<String, String> m = meta("2bit", ok);
        m.put("format", "gguf");
        expectBad(good, m, "not a packed ternary model");
        m = meta("2bit", ok);
        m.put("format_version", "2");
        expectBad(good, m, "format_version");
        expectBad(good, meta("3bit", ok), "packing");
        expectBad(good, meta("2bit", "{not json"), "not valid JSON");
        expectBad(good, meta("2bit", ok.replace("ternary\"", "nibble\"")), "'kind'");
        expectBad(good, meta("2bit", ok.replace("[2,5]", "[2,9]")), "expected U8[2, 3]");
        expectBad(good, meta("2bit", ok.replace("[2,5]", "[3,5]")), "expected U8[3, 2]");
        expectBad(good, meta("2bit", ok.replace("per_row", "per_tensor")), "expected F32[1]");
        expectBad(good, meta("2bit", ok.replace("per_row", "per_col")), "'scale'");
        expectBad(good.subList(0, 1), meta("2bit", ok), "lacks its part 'w.scale'");
        List<TensorData> stray = new ArrayList<>(good);
        stray.add(TensorData.ofFloats("extra", new float[] {1f}, 1));
        expectBad(stray, meta("2bit", ok), "'extra' is not described");
        List<TensorData> code3 = List.of(
                TensorData.ofBytes("w.ternary", DType.U8, new byte[] {0x55, 0x57, 0x55, 0x55}, 2, 2),
                TensorData.ofFloats("w.scale", new float[] {1f, 2f}, 2));
        expectBad(code3, meta("2bit", ok), "invalid 2bit byte");
        List<TensorData> nan = List.of(good.get(0), TensorData.ofFloats("w.scale", new float[] {1f, Float.NaN}, 2));
        expectBad(nan, meta("2bit", ok), "scale 1 is NaN");
        String b3 = ok.replace("[2,5]", "[2,5]");
        List<TensorData> big =
                List.of(TensorData.ofBytes("w.ternary", DType.U8, new byte[] {(byte) 243, 0}, 2, 1), good.get(1));
        expectBad(big, meta("base3", b3), "invalid base3 byte 243");
    }

    /** The word-at-a-time code check finds a bad byte at every offset (in a word and in the tail) and names it. */
    @Test
    void rejectsAnInvalidCodeByteAtEveryOffset() throws Exception {
        String shape = "{\"w\":{\"kind\":\"ternary\",\"shape\":[2,40],\"dtype\":\"F32\",\"scale\":\"per_row\"}}";
        TensorData scale = TensorData.ofFloats("w.scale", new float[] {1f, 2f}, 2);
        // 2-bit: 10 bytes a row, all codes 0..2 valid (0xAA: four codes 2); a byte with a pair 11 is not
        badAtEveryOffset("2bit", shape, scale, 10, 0xAA, 0x03, 0x57, 0xC0, 0xFF);
        // base 3: 8 bytes a row, 0..242 valid (242: five digits 2); 243..255 are not
        badAtEveryOffset("base3", shape, scale, 8, 242, 243, 250, 255);
        byte[] max2 = new byte[20], max3 = new byte[16];
        java.util.Arrays.fill(max2, (byte) 0xAA);
        java.util.Arrays.fill(max3, (byte) 242);
        float[] plus = new float[80];
        java.util.Arrays.fill(plus, 0, 40, 1f);
        java.util.Arrays.fill(plus, 40, 80, 2f);
        for (var c : List.of(
                java.util.Map.entry("2bit", TensorData.ofBytes("w.ternary", DType.U8, max2, 2, 10)),
                java.util.Map.entry("base3", TensorData.ofBytes("w.ternary", DType.U8, max3, 2, 8)))) {
            Path f = dir.resolve("max-" + c.getKey() + ".safetensors");
            SafetensorsWriter.write(f, List.of(c.getValue(), scale), meta(c.getKey(), shape));
            try (Arena arena = Arena.ofConfined()) {
                assertArrayEquals(
                        plus, PackedModelFormat.open(f, arena).dequantize("w").toFloatArray(), c.getKey());
            }
        }
    }

    private void badAtEveryOffset(String packing, String shape, TensorData scale, int rowBytes, int fill, int... bads)
            throws Exception {
        for (int bad : bads) {
            for (int at = 0; at < 2 * rowBytes; at++) {
                byte[] b = new byte[2 * rowBytes];
                java.util.Arrays.fill(b, (byte) fill);
                b[at] = (byte) bad;
                expectBad(
                        List.of(TensorData.ofBytes("w.ternary", DType.U8, b, 2, rowBytes), scale),
                        meta(packing, shape),
                        "invalid " + packing + " byte " + bad + " at offset " + at);
            }
        }
    }

    @Test
    void packedSegmentIsASliceOfTheMapping() throws Exception {
        Random r = new Random(3);
        Path f = writeSample(Packing.TWO_BIT, codes(91, r), floats(7, r), codes(15, r), floats(66, r), floats(5, r));
        try (Arena arena = Arena.ofConfined()) {
            PackedModel m = PackedModelFormat.open(f, arena);
            SafetensorsFile raw = SafetensorsFile.open(f, arena);
            assertTrue(m.ternary("a.weight").packed().isMapped(), "packed bytes should be read in place");
            assertArrayEquals(
                    raw.get("a.weight.ternary").data().toArray(ValueLayout.JAVA_BYTE),
                    m.ternary("a.weight").packed().toArray(ValueLayout.JAVA_BYTE));
        }
    }
}
