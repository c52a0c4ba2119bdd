package bitnet.engine.compress;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import bitnet.io.packed.PackedModel;
import bitnet.io.packed.PackedModelFormat;
import bitnet.kernels.Backends;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** int8_patterns: a linear layer stored as per-row int8 instead of ternary, in both outputs alike. */
class Int8LayersTest {
    @Test
    void namedLayerIsInt8AndBothOutputsAgree(@TempDir Path tmp) throws Exception {
        Path text = DemoCompressTest.heldoutSample(tmp);
        long[] bytes = new long[2];
        for (int run = 0; run < 2; run++) {
            CompressConfig c = new CompressConfig();
            c.model_path = DemoCompressTest.DEMO.toString();
            c.output_path = tmp.resolve("out" + run).toString();
            c.calibration_dataset = text.toString();
            c.eval_data = text.toString();
            c.enable_fine_tuning = false;
            c.eval_windows = 2;
            if (run == 1) {
                c.int8_patterns = List.of("layers.1.self_attn.o_proj");
            }
            Map<String, Object> res = new Pipeline(c, Backends.select("cpu", 0).kernels(), false).run();
            Path file = Path.of(c.output_path, PackedModelFormat.FILE_NAME);
            bytes[run] = Files.size(file);
            @SuppressWarnings("unchecked")
            Map<String, Object> m = (Map<String, Object>) res.get("metrics");
            double fp16 = (double) m.get("ppl_final"), packed = (double) m.get("ppl_packed");
            assertEquals(fp16, packed, 1e-3 * fp16, "packed and FP16 outputs hold the same weights");
            try (Arena a = Arena.ofShared()) {
                PackedModel pm = PackedModelFormat.open(file, a);
                assertEquals(
                        run == 1 ? PackedModelFormat.Kind.INT8 : PackedModelFormat.Kind.TERNARY,
                        pm.entry("model.layers.1.self_attn.o_proj.weight").kind());
                assertEquals(
                        PackedModelFormat.Kind.TERNARY,
                        pm.entry("model.layers.0.self_attn.o_proj.weight").kind());
            }
            assertEquals(run == 1 ? 27 : 28, ((Number) m.get("layers_quantized")).intValue());
        }
        // int8 codes take 1 byte a weight instead of 2 bits; both keep a 4-byte scale per row
        assertEquals(192 * 192 * 3 / 4, bytes[1] - bytes[0]);
        assertTrue(bytes[1] * 6.0 < 4.0 * 3_196_608, "still >= 6x: " + bytes[1]);
    }
}
