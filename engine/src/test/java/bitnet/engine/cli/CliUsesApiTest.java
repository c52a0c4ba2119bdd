package bitnet.engine.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The command line does its work through the public API (issue 13): its sources name no engine
 * internals (models, training, compression, evaluation, quantization, data, export), no kernels
 * and no io subpackage. Allowed besides bitnet.api: the exported bitnet.io types (errors,
 * tensors, the safetensors writer) and bitnet.engine.util (output safety, error types).
 */
class CliUsesApiTest {
    private static final Pattern REF =
            Pattern.compile("\\bbitnet\\.(engine\\.[a-z]+|kernels(\\.[a-z]+)?|io\\.[a-z]+)\\.[A-Za-z]");

    private static final List<String> ALLOWED = List.of("bitnet.engine.cli", "bitnet.engine.util");

    @Test
    void cliSourcesUseOnlyTheApi() throws IOException {
        Path dir = Path.of("src/main/java/bitnet/engine/cli");
        assertTrue(Files.isDirectory(dir), "run from the engine module: " + dir.toAbsolutePath());
        List<String> bad = new ArrayList<>();
        int files = 0;
        try (Stream<Path> s = Files.list(dir)) {
            for (Path f : s.filter(p -> p.toString().endsWith(".java")).sorted().toList()) {
                files++;
                String src = Files.readString(f);
                Matcher m = REF.matcher(src);
                while (m.find()) {
                    String pkg = "bitnet." + m.group(1);
                    String name = f.getFileName() + ":" + pkg;
                    if (!ALLOWED.contains(pkg) && !ALLOWED.contains(name)) {
                        bad.add(name);
                    }
                }
            }
        }
        assertTrue(files > 20, "found only " + files + " command sources");
        assertEquals(List.of(), bad, "the CLI reaches past bitnet.api");
    }

    @Test
    void theCheckSeesAnInternalImport() {
        Matcher m = REF.matcher("import bitnet.engine.model.Model;\nimport bitnet.kernels.cpu.VectorKernels;");
        assertTrue(m.find());
        assertEquals("engine.model", m.group(1));
        assertTrue(m.find());
        assertEquals("kernels.cpu", m.group(1));
    }
}
