package bitnet.engine.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import bitnet.engine.compress.FamilyModel;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.TreeSet;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Each newer family compresses end to end through the command line, on a small generated model
 * of that family (random weights, the demo tokenizer) with two QAT fine-tuning steps (forced: a
 * random model barely degrades): every output
 * is written; the FP16 directory keeps the HF class, config and tensor names and gives the
 * packed model's logits (FP16 embeddings, so both hold the same fine-tuned ternary weights);
 * the packed model runs ppl and generate; inspect names the family.
 */
class FamilyCompressTest {
    @TempDir
    Path tmp;

    @ParameterizedTest
    @ValueSource(strings = {"qwen3", "gemma3", "phi3", "gpt_neox"})
    void compressesEndToEnd(String family) throws IOException {
        Path model = tmp.resolve("model");
        FamilyModel.write(model, family, 64, 2, 128, Cli.demoModel(), 7);
        JsonNode info =
                Cli.run("inspect", "--model", model.toString(), "--json").ok().json();
        assertEquals(
                family.equals("gemma3") ? "gemma3_text" : family,
                info.get("model_type").asText());
        String held = Files.readString(Cli.demoHeldout(), StandardCharsets.UTF_8);
        Path calib = tmp.resolve("calib.txt");
        Path eval = tmp.resolve("eval.txt");
        Files.writeString(calib, CompressCliTest.slice(held, 0, 8_000), StandardCharsets.UTF_8);
        Files.writeString(eval, CompressCliTest.slice(held, held.length() / 2, 4_000), StandardCharsets.UTF_8);
        Path config = tmp.resolve("config.json");
        Files.writeString(
                config,
                "{\"fine_tune_batch_size\": 2, \"fine_tune_sequence_length\": 64, \"embedding_precision\": \"fp16\",\n"
                        + " \"fine_tune_threshold\": -1}");
        Path out = tmp.resolve("out");
        Cli.Result run = Cli.run(
                "compress",
                "--model",
                model.toString(),
                "--output",
                out.toString(),
                "--config",
                config.toString(),
                "--fine-tune-steps",
                "2",
                "--eval-windows",
                "2",
                "--calibration-data",
                calib.toString(),
                "--eval-data",
                eval.toString(),
                "--json");
        assertTrue(run.code() == 0 || run.code() == 4, () -> "exit " + run.code() + "\n" + run.err());
        JsonNode m = run.json().get("metrics");
        assertTrue(m.get("layers_quantized").asInt() > 0, m.toString());
        assertEquals(2, m.get("fine_tune_steps").asInt(), "QAT fine-tuning ran: " + m);
        Path fp16 = out.resolve("bitnet_dequantized_fp16");
        for (String f : new String[] {
            "bitnet_quantized_model.safetensors",
            "bitnet_dequantized_fp16/config.json",
            "bitnet_dequantized_fp16/model.safetensors",
            "bitnet_dequantized_fp16/tokenizer.json",
            "compression_metadata.json",
            "report.html"
        }) {
            assertTrue(Files.isRegularFile(out.resolve(f)), family + ": missing output " + f);
        }
        // the FP16 directory is the same HF class with the same tensor names
        JsonNode srcCfg = Cli.readJson(model.resolve("config.json"));
        JsonNode outCfg = Cli.readJson(fp16.resolve("config.json"));
        assertEquals(srcCfg.get("model_type"), outCfg.get("model_type"));
        assertEquals(srcCfg.get("architectures"), outCfg.get("architectures"));
        try (Arena arena = Arena.ofConfined()) {
            assertEquals(
                    new TreeSet<>(Cli.open(model.resolve("model.safetensors"), arena)
                            .tensors()
                            .keySet()),
                    new TreeSet<>(Cli.open(fp16.resolve("model.safetensors"), arena)
                            .tensors()
                            .keySet()),
                    family + ": tensor names");
            // logits of the FP16 directory and of the packed ternary model agree to F16 rounding
            String ids = Cli.idsArg(5, 17, 300, 4000, 8191, 42, 7, 1000);
            Cli.run(
                            "logits",
                            "--model",
                            fp16.toString(),
                            "--ids",
                            ids,
                            "--out",
                            tmp.resolve("a.safetensors").toString())
                    .ok();
            Cli.run(
                            "logits",
                            "--model",
                            out.toString(),
                            "--ids",
                            ids,
                            "--out",
                            tmp.resolve("b.safetensors").toString())
                    .ok();
            float[] a =
                    Cli.open(tmp.resolve("a.safetensors"), arena).get("logits").toFloatArray();
            float[] b =
                    Cli.open(tmp.resolve("b.safetensors"), arena).get("logits").toFloatArray();
            double d = Cli.excess(a, b, 2e-3, 2e-3);
            System.err.println("[" + family + "] FP16 vs packed logits: excess over 2e-3 abs+rel " + d);
            assertTrue(d <= 1, family + ": FP16 and packed logits differ");
        }
        JsonNode ppl = Cli.run(
                        "ppl",
                        "--model",
                        out.toString(),
                        "--text",
                        eval.toString(),
                        "--seq-len",
                        "256",
                        "--windows",
                        "2",
                        "--json")
                .ok()
                .json();
        assertEquals(
                1,
                ppl.get("ppl").asDouble() / m.get("ppl_packed").asDouble(),
                1e-3,
                family + ": ppl of the packed output");
        JsonNode g = Cli.run(
                        "generate",
                        "--model",
                        out.toString(),
                        "--prompt",
                        "The ",
                        "--max-new",
                        "5",
                        "--greedy",
                        "--ignore-eos",
                        "--json")
                .ok()
                .json();
        assertEquals(
                5,
                g.get("ids").size()
                        - Cli.run("tokenize", "--tokenizer", model.toString(), "--text", "The ", "--json")
                                .ok()
                                .json()
                                .get("ids")
                                .size(),
                g.toString());
    }
}
