package bitnet.engine.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import bitnet.engine.TestData;
import bitnet.io.SafetensorsFile;
import bitnet.io.TensorData;
import com.fasterxml.jackson.databind.JsonNode;
import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * logits, grads, train-steps and generate through the command line, against the HuggingFace
 * dumps of the hf-tiny fixtures (refs.safetensors) and the stories260K references. Expected
 * values come only from those files.
 */
class CliParityTest {
    @TempDir
    Path tmp;

    static String[] cases() {
        return TestData.HF_TINY;
    }

    /** input_ids of refs.safetensors as an --ids argument. */
    static String refIds(SafetensorsFile refs) {
        TensorData t = refs.get("input_ids");
        return Cli.idsArg(t.toLongArray(), t.dim(0), t.dim(1));
    }

    @ParameterizedTest
    @MethodSource("cases")
    void logitsAndLossMatchHuggingFace(String c) {
        Path dir = Cli.hfTiny(c);
        Path out = tmp.resolve("logits.safetensors");
        try (Arena arena = Arena.ofConfined()) {
            SafetensorsFile refs = Cli.open(dir.resolve("refs.safetensors"), arena);
            Cli.run("logits", "--model", dir.toString(), "--ids", refIds(refs), "--out", out.toString(), "--loss")
                    .ok();
            SafetensorsFile got = Cli.open(out, arena);
            TensorData logits = got.get("logits");
            assertEquals("F32", logits.dtype().safetensorsName());
            assertArrayEquals(refs.get("logits").shape(), logits.shape(), c + ": logits shape [B,T,V]");
            double d = Cli.excess(logits.toFloatArray(), refs.get("logits").toFloatArray(), 1e-4, 0);
            assertTrue(d <= 1, c + ": logits differ by " + d * 1e-4);
            assertArrayEquals(new long[] {1}, got.get("loss").shape());
            assertEquals(refs.get("loss").getFloat(0), got.get("loss").getFloat(0), 1e-5, c + ": loss");
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama", "gpt2"})
    void gradsMatchHuggingFace(String c) {
        Path dir = Cli.hfTiny(c);
        Path out = tmp.resolve("grads.safetensors");
        try (Arena arena = Arena.ofConfined()) {
            SafetensorsFile refs = Cli.open(dir.resolve("refs.safetensors"), arena);
            Cli.run("grads", "--model", dir.toString(), "--ids", refIds(refs), "--out", out.toString())
                    .ok();
            SafetensorsFile got = Cli.open(out, arena);
            assertEquals(refs.get("loss").getFloat(0), got.get("loss").getFloat(0), 1e-5, c + ": loss");
            int n = 0;
            for (var e : refs.tensors().entrySet()) {
                if (!e.getKey().startsWith("grad.")) {
                    continue;
                }
                n++;
                assertTrue(got.has(e.getKey()), c + ": output lacks " + e.getKey());
                TensorData g = got.get(e.getKey());
                assertArrayEquals(e.getValue().shape(), g.shape(), e.getKey());
                double d = Cli.excess(g.toFloatArray(), e.getValue().toFloatArray(), 1e-5, 1e-4);
                assertTrue(d <= 1, c + ": " + e.getKey() + " off by " + d + "x the tolerance");
            }
            long ours = got.tensors().keySet().stream()
                    .filter(k -> k.startsWith("grad."))
                    .count();
            assertEquals(n, ours, c + ": grad.* tensors (tied weights once, under the embedding's name)");
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama", "gpt2"})
    void trainStepsWithGrokfastAndQatMatchPyTorch(String c) {
        Path dir = Cli.hfTiny(c);
        Path out = tmp.resolve("train.safetensors");
        try (Arena arena = Arena.ofConfined()) {
            SafetensorsFile refs = Cli.open(dir.resolve("refs.safetensors"), arena);
            float[] want = refs.get("train.qat.loss").toFloatArray();
            Cli.run(
                            "train-steps",
                            "--model",
                            dir.toString(),
                            "--ids",
                            refIds(refs),
                            "--steps",
                            Integer.toString(want.length),
                            "--grokfast",
                            "ema:0.98:2.0",
                            "--qat",
                            "seed:0.1",
                            "--out",
                            out.toString())
                    .ok();
            SafetensorsFile got = Cli.open(out, arena);
            float[] loss = got.get("loss").toFloatArray();
            assertEquals(want.length, loss.length);
            for (int i = 0; i < want.length; i++) {
                assertEquals(want[i], loss[i], 1e-5, c + ": loss before step " + i);
            }
            int n = 0;
            for (var e : refs.tensors().entrySet()) {
                if (e.getKey().startsWith("train.qat.param.")) {
                    String name = e.getKey().substring("train.qat.".length());
                    assertTrue(got.has(name), c + ": output lacks " + name);
                    double d = Cli.excess(
                            got.get(name).toFloatArray(), e.getValue().toFloatArray(), 1e-4, 1e-3);
                    assertTrue(d <= 1, c + ": " + name + " off by " + d + "x the tolerance");
                    n++;
                }
            }
            assertTrue(n > 0);
        }
    }

    @ParameterizedTest
    @MethodSource("cases")
    void greedyGenerationMatchesHuggingFace(String c) {
        Path dir = Cli.hfTiny(c);
        try (Arena arena = Arena.ofConfined()) {
            SafetensorsFile refs = Cli.open(dir.resolve("refs.safetensors"), arena);
            long[] want = refs.get("generate.greedy").toLongArray();
            long[] prompt = Arrays.copyOf(refs.get("input_ids").toLongArray(), 4);
            JsonNode j = Cli.run(
                            "generate",
                            "--model",
                            dir.toString(),
                            "--ids",
                            Cli.idsArg(prompt, 1, 4),
                            "--max-new",
                            "10",
                            "--greedy",
                            "--json")
                    .ok()
                    .json();
            int[] got = Cli.ints(j.get("ids"));
            assertArrayEquals(Arrays.stream(want).mapToInt(x -> (int) x).toArray(), got, c + ": greedy ids");
            assertTrue(j.has("text"), "generate's JSON has text");
        }
    }

    @Test
    void stories260KLogitsMatchReference() {
        Path out = tmp.resolve("s.safetensors");
        try (Arena arena = Arena.ofConfined()) {
            SafetensorsFile ref = Cli.open(Cli.stories().resolve("stories260K_logits.safetensors"), arena);
            TensorData in = ref.get("input_ids"); // I64 [1, 32]
            Cli.run(
                            "logits",
                            "--model",
                            Cli.stories().toString(),
                            "--ids",
                            Cli.idsArg(in.toLongArray(), in.dim(0), in.dim(1)),
                            "--out",
                            out.toString())
                    .ok();
            TensorData logits = Cli.open(out, arena).get("logits");
            assertArrayEquals(new long[] {1, in.dim(1), 512}, logits.shape());
            double d =
                    Cli.excess(logits.toFloatArray(), ref.get("logits").toFloatArray(), 1e-4, 0); // reference is [T, V]
            assertTrue(d <= 1, "stories260K logits differ by " + d * 1e-4);
        }
    }

    @Test
    void stories260KGreedy200MatchesReference() {
        // reference_greedy_ids.json holds the 200 new ids only (it does not start with the BOS 1)
        int[] want = Cli.ints(Cli.readJson(Cli.stories().resolve("reference_greedy_ids.json")));
        assertEquals(200, want.length);
        JsonNode j = Cli.run(
                        "generate", "--model", Cli.stories().toString(), "--ids", "1", "--max-new", "200", "--greedy")
                .ok()
                .json();
        int[] got = Cli.ints(j.get("ids"));
        assertEquals(201, got.length, "prompt + 200 new ids");
        assertEquals(1, got[0]);
        assertArrayEquals(want, Arrays.copyOfRange(got, 1, got.length));
        String story = j.get("text").asText();
        assertTrue(!story.isBlank(), "decoded text");
    }
}
