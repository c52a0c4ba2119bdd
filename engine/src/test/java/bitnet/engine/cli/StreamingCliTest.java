package bitnet.engine.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** compress with fine-tuning off takes the streaming path when asked, and its outputs run. */
class StreamingCliTest {
    @Test
    void streamingCompressWritesOutputsThatRun(@TempDir Path tmp) throws Exception {
        Path out = tmp.resolve("out");
        Cli.Result r = Cli.run("compress", "--model", Cli.demoModel().toString(), "--output", out.toString(),
                "--no-fine-tune", "--streaming", "on", "--json");
        assertTrue(r.code() == 0 || r.code() == 4, "exit " + r.code() + ": " + r.err());
        JsonNode res = Cli.JSON.readTree(r.out());
        assertEquals(true, res.get("metrics").get("streaming").asBoolean());
        assertTrue(Files.isRegularFile(out.resolve("bitnet_quantized_model.safetensors")));
        assertTrue(Files.isRegularFile(out.resolve("bitnet_dequantized_fp16/model.safetensors")));
        assertTrue(Files.isRegularFile(out.resolve(".bitnet-complete")));
        long packed = Files.size(out.resolve("bitnet_quantized_model.safetensors"));
        assertEquals(4.0 * res.get("metrics").get("parameters").asLong() / packed,
                res.get("metrics").get("compression_ratio").asDouble(), 1e-9);
        Cli.Result p = Cli.run("ppl", "--model", out.toString(), "--text", Cli.demoHeldout().toString(), "--windows", "2");
        assertEquals(0, p.code(), p.err());
        double ppl = Cli.JSON.readTree(p.out()).get("ppl").asDouble();
        assertTrue(ppl > 1 && ppl < 1e5, "packed streaming output runs: ppl " + ppl);
    }

    @Test
    void streamingWithFineTuningIsAUsageError(@TempDir Path tmp) {
        Cli.Result r = Cli.run("compress", "--model", Cli.demoModel().toString(), "--output", tmp.resolve("o").toString(),
                "--streaming", "on");
        assertEquals(2, r.code(), r.err());
        assertTrue(!Files.exists(tmp.resolve("o")));
    }
}
