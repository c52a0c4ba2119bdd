package bitnet.engine.cli;

import bitnet.api.TextTokenizer;
import bitnet.io.BadInputException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "tokenize", description = "Encode text exactly as HF tokenizers' encode(text) (with its post-processor).")
public final class TokenizeCmd implements Callable<Integer> {
    @Option(names = "--tokenizer", required = true, description = "tokenizer.json or a directory holding it")
    Path tokenizer;

    static final class Input {
        @Option(names = "--text", description = "the text")
        String text;
        @Option(names = "--file", description = "a UTF-8 file, encoded as one string")
        Path file;
        @Option(names = "--jsonl", description = "each line a JSON string, encoded on its own")
        Path jsonl;
    }

    @ArgGroup(exclusive = true, multiplicity = "1")
    Input in;

    @Option(names = "--json", description = "(output is always JSON)")
    boolean json;
    @Option(names = "--debug", description = "show stack traces")
    boolean debug;

    @Override
    public Integer call() throws IOException {
        TextTokenizer tok = TextTokenizer.load(tokenizer);
        if (in.jsonl != null) {
            List<int[]> rows = new ArrayList<>();
            int n = 0;
            for (String line : read(in.jsonl).split("\n", -1)) {
                n++;
                if (line.isEmpty()) {
                    continue;
                }
                com.fasterxml.jackson.databind.JsonNode node;
                try {
                    node = Outputs.JSON.readTree(line);
                } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
                    // a malformed line is bad input (exit 3 naming the file), not an internal failure
                    throw new BadInputException(in.jsonl, "line " + n + " is not valid JSON: " + e.getOriginalMessage(), e);
                }
                if (node == null || !node.isTextual()) {
                    throw new BadInputException(in.jsonl, "line " + n + " is not a JSON string");
                }
                rows.add(tok.encode(node.asText()));
            }
            StringBuilder sb = new StringBuilder();
            for (int[] r : rows) {
                sb.append(Outputs.JSON.writer().writeValueAsString(r)).append('\n');
            }
            System.out.print(sb);
            return 0;
        }
        String text = in.text != null ? in.text : read(in.file);
        Outputs.printJson(Map.of("ids", tok.encode(text)));
        return 0;
    }

    static String read(Path f) {
        try {
            return Files.readString(f, StandardCharsets.UTF_8);
        } catch (java.nio.file.NoSuchFileException e) {
            throw new BadInputException(f, "file not found", e);
        } catch (IOException e) {
            throw new BadInputException(f, "cannot read as UTF-8 text: " + e.getMessage(), e);
        }
    }
}
