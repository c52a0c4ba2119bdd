package bitnet.engine.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** compress with fine-tuning off takes the streaming path when asked, and its outputs run. */
class StreamingCliTest {
    @Test
    void streamingCompressWritesOutputsThatRun(@TempDir Path tmp) throws Exception {
        Path out = tmp.resolve("out");
        Cli.Result r = Cli.run(
                "compress",
                "--model",
                Cli.demoModel().toString(),
                "--output",
                out.toString(),
                "--no-fine-tune",
                "--streaming",
                "on",
                "--json");
        assertTrue(r.code() == 0 || r.code() == 4, "exit " + r.code() + ": " + r.err());
        JsonNode res = Cli.JSON.readTree(r.out());
        assertEquals(true, res.get("metrics").get("streaming").asBoolean());
        assertTrue(Files.isRegularFile(out.resolve("bitnet_quantized_model.safetensors")));
        assertTrue(Files.isRegularFile(out.resolve("bitnet_dequantized_fp16/model.safetensors")));
        assertTrue(Files.isRegularFile(out.resolve(".bitnet-complete")));
        long packed = Files.size(out.resolve("bitnet_quantized_model.safetensors"));
        assertEquals(
                4.0 * res.get("metrics").get("parameters").asLong() / packed,
                res.get("metrics").get("compression_ratio").asDouble(),
                1e-9);
        Cli.Result p = Cli.run(
                "ppl", "--model", out.toString(), "--text", Cli.demoHeldout().toString(), "--windows", "2");
        assertEquals(0, p.code(), p.err());
        double ppl = Cli.JSON.readTree(p.out()).get("ppl").asDouble();
        assertTrue(ppl > 1 && ppl < 1e5, "packed streaming output runs: ppl " + ppl);
    }

    @Test
    void streamingWithFineTuningIsAUsageError(@TempDir Path tmp) {
        Cli.Result r = Cli.run(
                "compress",
                "--model",
                Cli.demoModel().toString(),
                "--output",
                tmp.resolve("o").toString(),
                "--streaming",
                "on");
        assertEquals(2, r.code(), r.err());
        assertTrue(!Files.exists(tmp.resolve("o")));
    }
    /** The hf-tiny cases stored as safetensors (streaming compression reads no pytorch_model.bin). */
    static String[] safetensorsCases() {
        return java.util.Arrays.stream(CliParityTest.cases())
                .filter(c -> !Files.exists(Cli.hfTiny(c).resolve("pytorch_model.bin")))
                .toArray(String[]::new);
    }

    /**
     * For every hf-tiny family, a compress output runs from its packed file (ternary tables or
     * row kernels, int8 embeddings kept int8) and gives the logits of its FP16 twin, which differs
     * only by FP16 rounding of the scales and embeddings (about 1% of the largest logit here;
     * a wrong kernel or embedding is off by the logits' own size).
     */
    @ParameterizedTest
    @MethodSource("safetensorsCases")
    void packedOutputMatchesItsFp16Twin(String c, @TempDir Path tmp) {
        Path out = tmp.resolve("out");
        Cli.Result r = Cli.run(
                "compress",
                "--model",
                Cli.hfTiny(c).toString(),
                "--output",
                out.toString(),
                "--no-fine-tune",
                "--streaming",
                "on",
                "--max-accuracy-drop",
                "100",
                "--target-ratio",
                "1");
        assertEquals(0, r.code(), r.err());
        // one row of 3 (table kernels: not a multiple of 4) and rows of 8 (the 4-row kernel)
        for (String ids : new String[] {"1,5,9", "1,5,9,17,33,65,129,200;3,4,5,6,7,8,9,10"}) {
            Path lp = tmp.resolve("packed.safetensors"), lf = tmp.resolve("fp16.safetensors");
            Cli.run("logits", "--model", out.toString(), "--ids", ids, "--out", lp.toString(), "--overwrite")
                    .ok();
            Cli.run(
                            "logits",
                            "--model",
                            out.resolve("bitnet_dequantized_fp16").toString(),
                            "--ids",
                            ids,
                            "--out",
                            lf.toString(),
                            "--overwrite")
                    .ok();
            try (Arena arena = Arena.ofConfined()) {
                float[] p = Cli.open(lp, arena).get("logits").toFloatArray();
                float[] f = Cli.open(lf, arena).get("logits").toFloatArray();
                assertEquals(f.length, p.length);
                double max = 0, diff = 0;
                for (int i = 0; i < f.length; i++) {
                    max = Math.max(max, Math.abs(f[i]));
                    diff = Math.max(diff, Math.abs(p[i] - f[i]));
                }
                assertTrue(
                        max > 0 && diff <= 0.03 * max,
                        c + " " + ids + ": packed vs FP16 logits differ by " + diff + " (max " + max + ")");
            }
        }
    }
}
