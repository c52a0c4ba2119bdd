package bitnet.engine.cli;

import java.nio.file.Path;
import picocli.CommandLine.Option;

/** The --ids / --out / --overwrite options of the commands that write one safetensors file. */
public class IdsOut {
    @Option(names = "--ids", required = true, description = "token ids: rows separated by ';', ids by ','")
    String ids;

    @Option(names = "--out", required = true, description = "output .safetensors file")
    Path out;

    @Option(names = "--overwrite", description = "replace an existing output")
    boolean overwrite;

    /** Parses --ids and checks that --out may be written without touching the inputs. */
    Ids prepare(picocli.CommandLine cmd, Path... inputs) {
        Ids x = Ids.parse(cmd, ids);
        Outputs.checkWritable(out, overwrite, java.util.List.of(inputs));
        return x;
    }
}
