package bitnet.engine.compress;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import bitnet.engine.quant.QuantResult;
import bitnet.engine.quant.Quantizer;
import bitnet.engine.util.OutputDir;
import bitnet.io.BadInputException;
import bitnet.io.Checkpoint;
import bitnet.io.DType;
import bitnet.io.TensorData;
import bitnet.io.packed.PackedModel;
import bitnet.io.packed.PackedModelFormat;
import bitnet.kernels.cpu.ScalarKernels;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Streaming compression of a generated ~58 MB sharded BF16 Llama: both outputs load through the
 * ordinary readers, the FP16 weights are exactly fp16(s*q) of the packed codes and scales, the codes
 * are what the quantizer gives on the original weights (recomputed here from the input files), and
 * the untouched tensors round-trip.
 */
class StreamingCompressorTest {
    @TempDir
    Path tmp;

    static CompressConfig config(Path model, Path out) {
        CompressConfig c = new CompressConfig();
        c.model_path = model.toString();
        c.output_path = out.toString();
        c.enable_fine_tuning = false;
        c.target_compression_ratio = 1.0;
        c.explicit.add("target_compression_ratio");
        return c;
    }

    @Test
    void shardedModelStreamsToLoadableOutputs() throws Exception {
        Path model = tmp.resolve("model");
        long bytes = SyntheticModel.write(model, 8, 512, 1376, 4000, 3, 11);
        assertTrue(bytes > 50_000_000L, "about 50 MB of weights, got " + bytes);
        Path out = tmp.resolve("out");
        CompressConfig c = config(model, out);
        Map<String, Object> res = StreamingCompressor.run(c, new ScalarKernels(), false);
        assertEquals(true, res.get("success"), () -> String.valueOf(res.get("error")));
        @SuppressWarnings("unchecked")
        Map<String, Object> m = (Map<String, Object>) res.get("metrics");
        assertEquals(8 * 7, m.get("layers_quantized"));
        assertEquals(8 * 2 + 3, m.get("layers_preserved"));
        assertEquals(bytes, m.get("bytes_read"));
        assertTrue(OutputDir.isComplete(out));
        assertFalse(Files.exists(tmp.resolve("out.partial")));

        Path fp16Dir = out.resolve(PackedLoader.FP16_DIR);
        for (int s = 1; s <= 3; s++) {
            assertTrue(Files.isRegularFile(fp16Dir.resolve(String.format("model-%05d-of-00003.safetensors", s))));
        }
        Quantizer qz = Quantizer.parse(c.quantizerSpec());
        try (Arena arena = Arena.ofShared()) {
            Checkpoint in = Checkpoint.open(model, arena);
            Checkpoint fp16 = Checkpoint.open(fp16Dir, arena);
            PackedModel packed = PackedModelFormat.open(out.resolve(PackedModelFormat.FILE_NAME), arena);
            assertEquals(in.tensors().keySet(), fp16.tensors().keySet());
            assertEquals(in.tensors().keySet(), Set(packed.names()));
            int ternary = 0;
            for (String name : packed.names()) {
                TensorData f = fp16.get(name);
                assertEquals(DType.F16, f.dtype());
                PackedModel.Entry e = packed.entry(name);
                if (e.kind() == PackedModelFormat.Kind.TERNARY) {
                    ternary++;
                    float[] sq = packed.dequantize(name).toFloatArray(); // s*q from the packed file
                    for (int i = 0; i < sq.length; i++) {
                        if (Float.floatToFloat16(sq[i]) != bits(f, i)) {
                            throw new AssertionError(name + "[" + i + "]: fp16 " + f.getFloat(i) + " != s*q " + sq[i]);
                        }
                    }
                    if (name.endsWith("layers.0.mlp.down_proj.weight")
                            || name.endsWith("layers.7.self_attn.q_proj.weight")) {
                        TensorData orig = in.get(name);
                        QuantResult q = qz.quantize(name, orig.toFloatArray(), orig.dim(0), orig.dim(1));
                        assertArrayEquals(q.q(), packed.ternaryCodes(name), name);
                        assertArrayEquals(q.scale(), packed.ternary(name).scales(), name);
                    }
                } else {
                    // int8 embeddings: the FP16 output holds the values of the int8 codes, as the in-memory path's
                    float[] o = e.kind() == PackedModelFormat.Kind.INT8
                            ? packed.dequantize(name).toFloatArray()
                            : in.get(name).toFloatArray();
                    for (int i = 0; i < o.length; i++) {
                        assertEquals(Float.floatToFloat16(o[i]), bits(f, i), name);
                    }
                    if (name.contains("norm")) {
                        assertEquals(
                                -1,
                                in.get(name).data().mismatch(packed.plain(name).data()),
                                name + " kept as stored");
                    }
                }
            }
            assertEquals(56, ternary);
        }
    }

    static final java.lang.foreign.ValueLayout.OfShort LE16 =
            java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN);

    /** The raw FP16 bits of element i. */
    static short bits(TensorData f16, long i) {
        return f16.data().get(LE16, 2 * i);
    }

    static java.util.Set<String> Set(List<String> l) {
        return new java.util.LinkedHashSet<>(l);
    }

    @Test
    void refusesNonFiniteWeightsAndLeavesNoOutput() throws Exception {
        Path model = NonFiniteTest.llamaWithNaN(tmp);
        Path out = tmp.resolve("out-nan");
        CompressConfig c = config(model, out);
        BadInputException e =
                assertThrows(BadInputException.class, () -> StreamingCompressor.run(c, new ScalarKernels(), false));
        assertTrue(
                e.getMessage().contains(NonFiniteTest.NAN_TENSOR)
                        && e.getMessage().contains("allow_nonfinite"),
                e.getMessage());
        assertFalse(Files.exists(out));
        c.allow_nonfinite = true;
        assertEquals(
                true, StreamingCompressor.run(c, new ScalarKernels(), false).get("success"));
        assertTrue(OutputDir.isComplete(out));
    }
}
