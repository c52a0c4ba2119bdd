package bitnet.engine;

import java.net.URISyntaxException;
import java.nio.file.Path;

/** Locates reference data copied into the engine's test resources. */
public final class TestData {
    private TestData() {}

    public static Path resource(String name) {
        try {
            var url = TestData.class.getResource("/" + name);
            if (url == null) {
                throw new IllegalStateException("test resource missing: " + name);
            }
            return Path.of(url.toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Every hf-tiny case directory name. */
    public static final String[] HF_TINY = {
        "gpt2",
        "gpt2-bin",
        "llama",
        "llama-f16",
        "llama3rope-bf16-sharded",
        "mistral",
        "qwen2",
        "qwen3",
        "gemma3",
        "phi3",
        "phi3-longrope",
        "gpt_neox",
        "gpt_neox-seq"
    };

    public static Path hfTiny(String c) {
        return resource("hf-tiny/" + c);
    }
}
