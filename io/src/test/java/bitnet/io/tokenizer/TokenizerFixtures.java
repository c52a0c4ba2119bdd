package bitnet.io.tokenizer;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.concurrent.ConcurrentHashMap;

/** Test helper: paths of the tokenizer fixtures in src/test/resources/tokenizers, loaded once per JVM. */
final class TokenizerFixtures {
    private TokenizerFixtures() {}

    private static final ConcurrentHashMap<String, Tokenizer> LOADED = new ConcurrentHashMap<>();

    static Path resource(String rel) {
        try {
            var url = TokenizerFixtures.class.getResource("/tokenizers/" + rel);
            if (url == null) throw new UncheckedIOException(new IOException("missing test resource tokenizers/" + rel));
            return Path.of(url.toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    static Tokenizer load(String rel) {
        return LOADED.computeIfAbsent(rel, r -> Tokenizer.load(resource(r)));
    }
}
