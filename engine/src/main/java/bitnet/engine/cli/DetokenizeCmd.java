package bitnet.engine.cli;

import bitnet.api.TextTokenizer;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

@Command(name = "detokenize", description = "Decode token ids to text.")
public final class DetokenizeCmd implements Callable<Integer> {
    @Option(names = "--tokenizer", required = true, description = "tokenizer.json or a directory holding it")
    Path tokenizer;

    @Option(names = "--ids", required = true, description = "token ids separated by ','")
    String ids;

    @Option(names = "--skip-special", description = "drop special tokens")
    boolean skipSpecial;

    @Option(names = "--json", description = "(output is always JSON)")
    boolean json;

    @Option(names = "--debug", description = "show stack traces")
    boolean debug;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        Ids x = Ids.parse(spec.commandLine(), ids);
        TextTokenizer tok = TextTokenizer.load(tokenizer);
        for (int id : x.flat()) {
            // like logits: an id the vocabulary does not hold is refused, not dropped
            if (id < 0 || tok.idToToken(id) == null) {
                throw new picocli.CommandLine.ParameterException(
                        spec.commandLine(),
                        "--ids: id " + id + " is outside the tokenizer's vocabulary (0.." + (tok.vocabSize() - 1)
                                + ")");
            }
        }
        Outputs.printJson(Map.of("text", tok.decode(x.flat(), skipSpecial)));
        return 0;
    }
}
