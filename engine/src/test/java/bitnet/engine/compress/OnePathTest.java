package bitnet.engine.compress;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import bitnet.io.packed.PackedModelFormat;
import bitnet.kernels.Backends;
import bitnet.kernels.Kernels;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * One compression path: with fine-tuning off, the in-memory pipeline and the streaming compressor
 * take their roles from the same {@link RolePlan} and write through the same packed writer, so the
 * demo model compressed both ways gives byte-identical packed files (int8 and fp16 embeddings,
 * 2-bit and base-3 packing).
 */
class OnePathTest {
    @TempDir
    Path tmp;

    @Test
    void streamingOnAndOffWriteByteIdenticalPackedFiles() throws Exception {
        Path text = tmp.resolve("eval.txt");
        Files.writeString(
                text,
                Files.readString(Path.of("..", "src", "demo", "heldout.txt")).substring(0, 8000));
        String[][] cases = {{"int8", "2bit"}, {"fp16", "base3"}};
        try (Kernels k = Backends.select("cpu", 0).kernels()) {
            for (String[] cs : cases) {
                byte[][] files = new byte[2][];
                for (int s = 0; s < 2; s++) {
                    CompressConfig c = new CompressConfig();
                    c.model_path = DemoCompressTest.DEMO.toString();
                    c.output_path =
                            tmp.resolve("out-" + cs[0] + "-" + cs[1] + "-" + s).toString();
                    c.calibration_dataset = text.toString();
                    c.eval_data = text.toString();
                    c.enable_fine_tuning = false;
                    c.eval_windows = 1;
                    c.eval_sequence_length = 64;
                    c.embedding_precision = cs[0];
                    c.packing = cs[1];
                    c.target_compression_ratio = 1.0; // the gates are not what this test is about
                    c.max_accuracy_drop = 100;
                    c.explicit.add("target_compression_ratio");
                    c.streaming = s == 0 ? "off" : "on";
                    assertEquals(s == 1, Pipeline.streams(c));
                    Map<String, Object> res =
                            s == 0 ? new Pipeline(c, k, false).run() : StreamingCompressor.run(c, k, false);
                    assertEquals(true, res.get("success"), () -> String.valueOf(res.get("error")));
                    files[s] = Files.readAllBytes(Path.of(c.output_path, PackedModelFormat.FILE_NAME));
                }
                assertTrue(files[0].length > 1_000_000, "a packed demo model of about 1-2 MB, got " + files[0].length);
                assertArrayEquals(files[0], files[1], "packed files differ for " + String.join("/", cs));
            }
        }
    }
}
