package bitnet.engine.export;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import bitnet.engine.TestData;
import bitnet.engine.cli.Main;
import bitnet.engine.compress.PackedLoader;
import bitnet.io.DType;
import bitnet.io.Packing;
import bitnet.io.SafetensorsFile;
import bitnet.io.TensorData;
import bitnet.io.gguf.GgmlType;
import bitnet.io.gguf.GgufFile;
import bitnet.io.packed.PackedModelFormat;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The export without llama.cpp: names, dims, the Llama q/k row permutation and exact re-encoding
 * of packed weights, read back through the GGUF reader; and the CLI's refusals. (llama.cpp itself
 * runs in bench/llamacpp-check.sh.)
 */
class GgufExportTest {
    @TempDir
    Path tmp;

    @Test
    void hfLlamaF32KeepsValuesWithQkRowsPermutedPerHead() throws IOException {
        Path model = TestData.hfTiny("llama");
        Path out = tmp.resolve("l.gguf");
        GgufExporter.export(model, out, new GgufExporter.Options(GgmlType.TQ2_0, GgmlType.F32, true));
        try (Arena a = Arena.ofConfined()) {
            GgufFile g = GgufFile.open(out, a);
            Map<String, TensorData> hf =
                    SafetensorsFile.open(model.resolve("model.safetensors"), a).tensors();
            assertEquals("llama", g.get("general.architecture"));
            assertEquals(2L, g.get("llama.block_count"));
            assertEquals(4L, g.get("llama.attention.head_count"));
            assertEquals(2L, g.get("llama.attention.head_count_kv"));
            assertEquals(12L, g.get("llama.rope.dimension_count"));
            TensorData q = hf.get("model.layers.0.self_attn.q_proj.weight"); // (48, 48), 4 heads of 12
            GgufFile.TensorInfo gq = g.tensor("blk.0.attn_q.weight");
            assertArrayEquals(new long[] {48, 48}, gq.ne());
            float[] want = q.toFloatArray(), got = gq.toFloats();
            // head h, pair i, half s: GGUF row h*12 + 2i + s is HF row h*12 + 6s + i
            for (int h = 0; h < 4; h++) {
                for (int i = 0; i < 6; i++) {
                    for (int s = 0; s < 2; s++) {
                        for (int c = 0; c < 48; c++) {
                            assertEquals(want[(h * 12 + 6 * s + i) * 48 + c], got[(h * 12 + 2 * i + s) * 48 + c]);
                        }
                    }
                }
            }
            assertArrayEquals(
                    hf.get("model.layers.0.self_attn.v_proj.weight").toFloatArray(),
                    g.tensor("blk.0.attn_v.weight").toFloats());
            assertArrayEquals(
                    hf.get("model.embed_tokens.weight").toFloatArray(),
                    g.tensor("token_embd.weight").toFloats());
            assertArrayEquals(
                    hf.get("lm_head.weight").toFloatArray(),
                    g.tensor("output.weight").toFloats());
            assertEquals(GgmlType.F32, g.tensor("blk.1.ffn_norm.weight").type());
        }
    }

    @Test
    void q2_0TakesRowsOfMultiplesOf64AndKeepsQ4_0ForTheRest() throws IOException {
        Path dir = packedOutput();
        Path out = tmp.resolve("q2.gguf");
        GgufExporter.Result res = GgufExporter.export(dir, out, new GgufExporter.Options(GgmlType.Q2_0, null, true));
        assertEquals(Map.of("q2_0", 1, "q4_0", 1, "f16", 1, "q8_0", 1, "f32", 1), res.tensors());
        try (Arena a = Arena.ofConfined()) {
            var pm = PackedModelFormat.open(dir.resolve(PackedModelFormat.FILE_NAME), a);
            GgufFile g = GgufFile.open(out, a);
            assertEquals(GgmlType.Q2_0, g.tensor("blk.0.attn_q.weight").type());
            assertEquals(
                    256L * 256 / 64 * 18, g.tensor("blk.0.attn_q.weight").data().byteSize());
            float[] q = pm.dequantize("model.layers.0.self_attn.q_proj.weight").toFloatArray();
            float[] scale = pm.ternary("model.layers.0.self_attn.q_proj.weight").scales();
            int[] perm = GgufArch.ropePermutation(2, 128);
            float[] got = g.tensor("blk.0.attn_q.weight").toFloats();
            for (int row = 0; row < 256; row++) {
                float hs = Float.float16ToFloat(Float.floatToFloat16(scale[perm[row]]));
                for (int c = 0; c < 256; c++) {
                    assertEquals(hs * Math.signum(q[perm[row] * 256 + c]), got[row * 256 + c]);
                }
            }
            assertEquals(GgmlType.Q4_0, g.tensor("blk.0.ffn_down.weight").type()); // rows of 96
        }
    }

    /** A compress output with one tensor per storage path: TQ (rows of 256), Q4_0 (96), F16 (40), Q8_0, F32. */
    private Path packedOutput() throws IOException {
        return packedOutput(false);
    }

    /** The same with the embedding as int4 (int4Embedding) instead of int8. */
    private Path packedOutput(boolean int4Embedding) throws IOException {
        Path dir = tmp.resolve(int4Embedding ? "out4" : "out");
        Path fp16 = dir.resolve(PackedLoader.FP16_DIR);
        Files.createDirectories(fp16);
        Files.writeString(fp16.resolve("config.json"), """
                {"model_type": "llama", "hidden_size": 256, "intermediate_size": 96, "num_hidden_layers": 1,
                 "num_attention_heads": 2, "num_key_value_heads": 2, "vocab_size": 300, "rms_norm_eps": 1e-5}""");
        Random r = new Random(7);
        PackedModelFormat.Writer w = PackedModelFormat.writer(Packing.TWO_BIT);
        w.addTernary(
                "model.layers.0.self_attn.q_proj.weight",
                256,
                256,
                DType.BF16,
                codes(r, 256 * 256),
                scales(r, 256),
                true);
        w.addTernary(
                "model.layers.0.mlp.down_proj.weight",
                256,
                96,
                DType.BF16,
                codes(r, 256 * 96),
                new float[] {0.03f},
                false);
        w.addTernary("model.layers.0.mlp.up_proj.weight", 96, 40, DType.BF16, codes(r, 96 * 40), scales(r, 96), true);
        float[] emb = new float[300 * 256];
        for (int i = 0; i < emb.length; i++) {
            emb[i] = (float) r.nextGaussian();
        }
        if (int4Embedding) {
            w.addInt4(TensorData.ofFloats("model.embed_tokens.weight", emb, 300, 256));
        } else {
            w.addInt8(TensorData.ofFloats("model.embed_tokens.weight", emb, 300, 256));
        }
        w.addPlain(TensorData.ofFloats("model.norm.weight", scales(r, 256), 256));
        w.write(dir.resolve(PackedModelFormat.FILE_NAME), Map.of());
        return dir;
    }

    private static byte[] codes(Random r, int n) {
        byte[] c = new byte[n];
        for (int i = 0; i < n; i++) {
            c[i] = (byte) (r.nextInt(3) - 1);
        }
        return c;
    }

    private static float[] scales(Random r, int n) {
        float[] s = new float[n];
        for (int i = 0; i < n; i++) {
            s[i] = 0.01f + r.nextFloat() * 0.1f;
        }
        return s;
    }

    @Test
    void packedWeightsAreReencodedExactlyUpToTheHalfScale() throws IOException {
        Path dir = packedOutput();
        for (GgmlType tt : new GgmlType[] {GgmlType.TQ2_0, GgmlType.TQ1_0}) {
            Path out = tmp.resolve(tt + ".gguf");
            GgufExporter.Result res = GgufExporter.export(dir, out, new GgufExporter.Options(tt, null, true));
            assertEquals(Map.of(tt.ggmlName(), 1, "q4_0", 1, "f16", 1, "q8_0", 1, "f32", 1), res.tensors());
            try (Arena a = Arena.ofConfined()) {
                var pm = PackedModelFormat.open(dir.resolve(PackedModelFormat.FILE_NAME), a);
                GgufFile g = GgufFile.open(out, a);
                assertEquals(tt, g.tensor("blk.0.attn_q.weight").type());
                // q: rows permuted per head (2 heads of 128), values = half(scale) * code
                float[] q =
                        pm.dequantize("model.layers.0.self_attn.q_proj.weight").toFloatArray();
                float[] scale =
                        pm.ternary("model.layers.0.self_attn.q_proj.weight").scales();
                int[] perm = GgufArch.ropePermutation(2, 128);
                float[] got = g.tensor("blk.0.attn_q.weight").toFloats();
                for (int row = 0; row < 256; row++) {
                    int src = perm[row];
                    float hs = Float.float16ToFloat(Float.floatToFloat16(scale[src]));
                    for (int c = 0; c < 256; c++) {
                        assertEquals(hs * Math.signum(q[src * 256 + c]), got[row * 256 + c]);
                    }
                }
                assertEquals(GgmlType.Q4_0, g.tensor("blk.0.ffn_down.weight").type());
                assertClose(
                        pm.dequantize("model.layers.0.mlp.down_proj.weight").toFloatArray(),
                        g.tensor("blk.0.ffn_down.weight").toFloats(),
                        1e-3);
                assertEquals(GgmlType.F16, g.tensor("blk.0.ffn_up.weight").type());
                assertClose(
                        pm.dequantize("model.layers.0.mlp.up_proj.weight").toFloatArray(),
                        g.tensor("blk.0.ffn_up.weight").toFloats(),
                        1e-3);
                assertEquals(GgmlType.Q8_0, g.tensor("token_embd.weight").type());
                assertClose(
                        pm.dequantize("model.embed_tokens.weight").toFloatArray(),
                        g.tensor("token_embd.weight").toFloats(),
                        1e-3);
                assertArrayEquals(
                        pm.dequantize("model.norm.weight").toFloatArray(),
                        g.tensor("output_norm.weight").toFloats());
                assertEquals(2L, g.get("general.quantization_version"));
            }
        }
    }

    @Test
    void int4EmbeddingsBecomeQ4_0BitForBit() throws IOException {
        Path dir = packedOutput(true);
        Path out = tmp.resolve("int4.gguf");
        GgufExporter.Result res = GgufExporter.export(dir, out, new GgufExporter.Options(GgmlType.TQ2_0, null, true));
        assertEquals(Map.of("tq2_0", 1, "q4_0", 2, "f16", 1, "f32", 1), res.tensors());
        try (Arena a = Arena.ofConfined()) {
            var pm = PackedModelFormat.open(dir.resolve(PackedModelFormat.FILE_NAME), a);
            GgufFile g = GgufFile.open(out, a);
            assertEquals(GgmlType.Q4_0, g.tensor("token_embd.weight").type());
            assertArrayEquals(
                    pm.dequantize("model.embed_tokens.weight").toFloatArray(),
                    g.tensor("token_embd.weight").toFloats());
        }
    }

    /** Relative to each value: the only rounding is the scale's to fp16 (2^-11). */
    private static void assertClose(float[] want, float[] got, double rel) {
        assertEquals(want.length, got.length);
        for (int i = 0; i < want.length; i++) {
            assertTrue(
                    Math.abs(want[i] - got[i]) <= rel * Math.abs(want[i]),
                    "element " + i + ": " + want[i] + " vs " + got[i]);
        }
    }

    @Test
    void cliRefusesWhatCannotBeExportedAndNeverOverwritesSilently() throws IOException {
        Path dir = packedOutput();
        Path out = tmp.resolve("m.gguf");
        assertEquals(
                3,
                Main.run("export", "--model", dir.toString(), "--format", "gguf", "--output", out.toString()),
                "no tokenizer and no --placeholder-vocab");
        assertEquals(
                0,
                Main.run(
                        "export",
                        "--model",
                        dir.toString(),
                        "--format",
                        "gguf",
                        "--output",
                        out.toString(),
                        "--placeholder-vocab"));
        assertEquals(
                3,
                Main.run(
                        "export",
                        "--model",
                        dir.toString(),
                        "--format",
                        "gguf",
                        "--output",
                        out.toString(),
                        "--placeholder-vocab"));
        assertEquals(
                0,
                Main.run(
                        "export",
                        "--model",
                        dir.toString(),
                        "--format",
                        "gguf",
                        "--output",
                        out.toString(),
                        "--placeholder-vocab",
                        "--overwrite",
                        "--ternary-type",
                        "tq1_0"));
        Files.writeString(tmp.resolve("other.gguf"), "not ours");
        assertEquals(
                3,
                Main.run(
                        "export",
                        "--model",
                        dir.toString(),
                        "--format",
                        "gguf",
                        "--output",
                        tmp.resolve("other.gguf").toString(),
                        "--placeholder-vocab",
                        "--overwrite"));
        assertEquals(2, Main.run("export", "--model", dir.toString(), "--format", "onnx", "--output", out.toString()));
        assertEquals(
                3,
                Main.run(
                        "export",
                        "--model",
                        dir.toString(),
                        "--format",
                        "gguf",
                        "--output",
                        dir.resolve("inside.gguf").toString(),
                        "--placeholder-vocab"));
        Path bert = tmp.resolve("bert");
        Files.createDirectories(bert);
        Files.writeString(bert.resolve("config.json"), "{\"model_type\": \"bert\"}");
        assertEquals(
                3,
                Main.run(
                        "export",
                        "--model",
                        bert.toString(),
                        "--format",
                        "gguf",
                        "--output",
                        tmp.resolve("b.gguf").toString()));
    }
}
