package bitnet.engine.compress;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import bitnet.io.BadInputException;
import bitnet.io.Checkpoint;
import bitnet.io.SafetensorsWriter;
import bitnet.io.TensorData;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A copied hf-tiny llama with NaN and Inf in one weight: refused unless allow_nonfinite, with the tensor and count named. */
class NonFiniteTest {
    static final String NAN_TENSOR = "model.layers.1.mlp.up_proj.weight";

    @TempDir
    Path tmp;

    /** Copies hf-tiny/llama into dir/llama-nan with two NaNs and one +Inf in NAN_TENSOR. */
    static Path llamaWithNaN(Path dir) throws IOException, URISyntaxException {
        Path src = Path.of(NonFiniteTest.class
                        .getResource("/hf-tiny/llama/config.json")
                        .toURI())
                .getParent();
        Path dst = dir.resolve("llama-nan");
        Files.createDirectories(dst);
        Files.copy(src.resolve("config.json"), dst.resolve("config.json"));
        List<TensorData> ts = new ArrayList<>();
        try (Arena arena = Arena.ofConfined()) {
            for (TensorData t : Checkpoint.open(src, arena).tensors().values()) {
                if (t.name().equals(NAN_TENSOR)) {
                    float[] v = t.toFloatArray();
                    v[0] = Float.NaN;
                    v[17] = Float.NaN;
                    v[v.length - 1] = Float.POSITIVE_INFINITY;
                    ts.add(TensorData.ofFloats(t.name(), v, t.shape()));
                } else {
                    ts.add(TensorData.ofFloats(t.name(), t.toFloatArray(), t.shape()));
                }
            }
        }
        SafetensorsWriter.write(dst.resolve("model.safetensors"), ts, Map.of("format", "pt"));
        return dst;
    }

    @Test
    void nanWeightIsRefusedUnlessAllowed() throws Exception {
        Path model = llamaWithNaN(tmp);
        try (Arena arena = Arena.ofConfined()) {
            Checkpoint ck = Checkpoint.open(model, arena);
            List<String> bad = NonFinite.scan(ck);
            assertEquals(1, bad.size(), bad::toString);
            assertTrue(bad.get(0).startsWith(NAN_TENSOR + " (3 of "), bad.get(0));
            BadInputException e = assertThrows(BadInputException.class, () -> NonFinite.check(ck, false));
            assertTrue(e.getMessage().contains("model.safetensors"), e.getMessage());
            assertTrue(
                    e.getMessage().contains(NAN_TENSOR + " (3 of ")
                            && e.getMessage().contains("allow_nonfinite"),
                    e.getMessage());
            assertDoesNotThrow(() -> NonFinite.check(ck, true));
        }
        // The untouched original passes.
        Path orig = Path.of(NonFiniteTest.class
                        .getResource("/hf-tiny/llama/config.json")
                        .toURI())
                .getParent();
        try (Arena arena = Arena.ofConfined()) {
            assertEquals(List.of(), NonFinite.scan(Checkpoint.open(orig, arena)));
        }
    }
}
