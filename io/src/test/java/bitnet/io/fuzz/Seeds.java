package bitnet.io.fuzz;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * The seed corpus: the files in src/test/resources/bitnet/io/fuzz/ParserFuzzTestInputs/&lt;target&gt;/,
 * which is also where Jazzer looks for regression inputs (and where it stores crashes it finds).
 * The binary seeds there were written by {@link SeedWriter}; JSON seeds are trimmed real files.
 */
final class Seeds {
    static final String DIR = "/bitnet/io/fuzz/ParserFuzzTestInputs/";

    private Seeds() {}

    static byte[] resource(String abs) {
        try (InputStream in = Seeds.class.getResourceAsStream(abs)) {
            if (in == null) {
                throw new UncheckedIOException(new IOException("missing test resource " + abs));
            }
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static Path resourcePath(String abs) {
        try {
            var url = Seeds.class.getResource(abs);
            if (url == null) {
                throw new UncheckedIOException(new IOException("missing test resource " + abs));
            }
            return Path.of(url.toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Every input of a target's corpus directory, sorted by name (deterministic runs). */
    static List<byte[]> of(String target) {
        Path dir = resourcePath(DIR + target);
        List<byte[]> out = new ArrayList<>();
        try (Stream<Path> files = Files.list(dir)) {
            for (Path p : files.sorted().toList()) {
                if (Files.isRegularFile(p)) {
                    out.add(Files.readAllBytes(p));
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        if (out.isEmpty()) {
            throw new IllegalStateException("no seeds for " + target);
        }
        return out;
    }
}
