package bitnet.engine.cli;

import bitnet.io.BadInputException;
import bitnet.io.tokenizer.Tokenizer;
import java.nio.file.Files;
import java.nio.file.Path;

/** Finding tokenizer.json for a model directory (or a compress output directory). */
final class TokenizerArgs {
    private TokenizerArgs() {}

    static Tokenizer forModel(Path hfDir) {
        Path f = hfDir.resolve("tokenizer.json");
        if (!Files.isRegularFile(f)) {
            throw new BadInputException(
                    f, "tokenizer.json not found: text input needs the model's tokenizer (or pass --ids)");
        }
        return Tokenizer.load(f);
    }

    /** HF generate's stop id: generation_config.json's eos_token_id, else config.json's. */
    static Integer eos(Path hfDir, Integer configEos) {
        Path g = hfDir.resolve("generation_config.json");
        if (Files.isRegularFile(g)) {
            try {
                var n = Outputs.JSON.readTree(Files.readString(g)).get("eos_token_id");
                if (n != null && n.isInt()) {
                    return n.asInt();
                }
                if (n != null && n.isArray() && !n.isEmpty()) {
                    return n.get(0).asInt();
                }
            } catch (java.io.IOException e) {
                throw new BadInputException(g, "not valid JSON", e);
            }
        }
        return configEos;
    }
}
