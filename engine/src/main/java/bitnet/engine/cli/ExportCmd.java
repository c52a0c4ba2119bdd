package bitnet.engine.cli;

import bitnet.api.GgufExport;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(
        name = "export",
        description = "Write a GGUF v3 file that llama.cpp runs, from a compress output or an HF directory.")
public final class ExportCmd implements Callable<Integer> {
    @Option(names = "--model", required = true, description = "compress output directory or HF model directory")
    Path model;

    @Option(names = "--format", required = true, description = "gguf (the only format)")
    String format;

    @Option(names = "--output", required = true, description = "the .gguf file to write")
    Path output;

    @Option(
            names = "--ternary-type",
            description = "tq2_0 (default, 2.06 bits) | tq1_0 (1.69 bits) for ternary rows that are multiples of 256"
                    + " | q2_0 (2.25 bits, rows multiples of 64; ggml type 42: only llama.cpp builds of 2026 on read it,"
                    + " e.g. node-llama-cpp 3.22.1's; older builds do not know the type)")
    String ternaryType = "tq2_0";

    @Option(names = "--type", description = "f16 | f32 for float matrices (default: as stored)")
    String type;

    @Option(names = "--placeholder-vocab", description = "write a stand-in vocabulary (for models without a tokenizer)")
    boolean placeholderVocab;

    @Option(names = "--overwrite", description = "replace an existing output written by bitnet")
    boolean overwrite;

    @Option(names = "--json", description = "print exactly one JSON object on stdout")
    boolean json;

    @Option(names = "--debug", description = "show stack traces")
    boolean debug;

    @Override
    public Integer call() {
        if (!format.equals("gguf")) {
            throw new IllegalArgumentException("--format must be gguf, got '" + format + "'");
        }
        GgufExport.Result r = GgufExport.export(model, output, ternaryType, type, placeholderVocab, overwrite);
        if (json) {
            Map<String, Object> o = new LinkedHashMap<>();
            o.put("path", r.path().toString());
            o.put("bytes", r.bytes());
            o.put("tensors", r.tensors());
            o.put("tokenizer", r.tokenizer());
            Outputs.printJson(o);
        } else {
            System.err.printf(
                    "[bitnet] wrote %s: %,d bytes, tensors %s, tokenizer %s%n",
                    r.path(), r.bytes(), r.tensors(), r.tokenizer());
        }
        return 0;
    }
}
