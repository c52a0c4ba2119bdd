package bitnet.engine.cli;

import bitnet.api.TextFiles;
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

@Command(
        name = "tokenize",
        description = "Encode text exactly as HF tokenizers' encode(text) (with its post-processor).")
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
            jsonl(tok, in.jsonl);
            return 0;
        }
        String text = in.text != null ? in.text : TextFiles.readWhole(in.file);
        Outputs.printJson(Map.of("ids", tok.encode(text)));
        return 0;
    }

    /**
     * One output line per input line, so line N of the output always answers line N of the input:
     * a blank line gives [] (it holds no string; skipping it would shift every later result).
     * The file is streamed: every line is checked before anything is printed (an error leaves
     * stdout empty), each line's ids are kept, never the whole text; a line longer than the text
     * limit is refused.
     */
    private static void jsonl(TextTokenizer tok, Path f) throws IOException {
        if (!Files.isRegularFile(f)) {
            throw new BadInputException(f, Files.exists(f) ? "not a regular file" : "file not found");
        }
        int limit = TextFiles.maxChars();
        List<int[]> rows = new ArrayList<>();
        var dec = StandardCharsets.UTF_8.newDecoder().onMalformedInput(java.nio.charset.CodingErrorAction.REPORT);
        try (var r = new java.io.BufferedReader(new java.io.InputStreamReader(Files.newInputStream(f), dec))) {
            int n = 0;
            long total = 0;
            String line;
            while ((line = r.readLine()) != null) {
                n++;
                total += line.length();
                if (line.length() > limit || total > 4L * limit) {
                    throw new BadInputException(
                            f,
                            "line " + n + ": more than the text limit of " + limit + " characters per line ("
                                    + 4L * limit + " in all) for this heap (BITNET_JAVA_OPTS=-Xmx... raises it)");
                }
                if (line.isBlank()) {
                    rows.add(new int[0]);
                    continue;
                }
                com.fasterxml.jackson.databind.JsonNode node;
                try {
                    node = Outputs.json().readTree(line);
                } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
                    // a malformed line is bad input (exit 3 naming the file), not an internal failure
                    throw new BadInputException(f, "line " + n + " is not valid JSON: " + e.getOriginalMessage(), e);
                }
                if (node == null || !node.isTextual()) {
                    throw new BadInputException(f, "line " + n + " is not a JSON string");
                }
                rows.add(tok.encode(node.asText()));
            }
        } catch (java.nio.charset.CharacterCodingException e) {
            throw new BadInputException(f, "not UTF-8 text", e);
        }
        StringBuilder sb = new StringBuilder();
        for (int[] row : rows) {
            sb.append(Outputs.json().writer().writeValueAsString(row)).append('\n');
        }
        System.out.print(sb);
    }
}
