package bitnet.engine.compress;

import bitnet.engine.cli.Outputs;
import bitnet.kernels.cpu.ScalarKernels;
import java.nio.file.Path;
import java.util.Map;

/**
 * Main for src/scripts/stream-3gb.sh (test classpath, not a CLI subcommand): streaming compression of
 * MODEL into OUT with fine-tuning off and the compression-ratio gate at 1, results JSON on stdout.
 */
public final class StreamRun {
    private StreamRun() {}

    public static void main(String[] a) throws Exception {
        CompressConfig c = StreamingCompressorTest.config(Path.of(a[0]), Path.of(a[1]));
        Map<String, Object> r = StreamingCompressor.run(c, new ScalarKernels(), true);
        System.out.println(Outputs.json().writeValueAsString(r));
    }
}
