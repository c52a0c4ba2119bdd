package bitnet.engine.cli;

import picocli.CommandLine.Option;

/** Options every compute subcommand takes: device, threads, JSON output, debug traces. */
public class Common {
    @Option(
            names = "--device",
            defaultValue = "auto",
            description = "auto | cpu | cuda (default auto; 'scalar' forces the reference kernels)")
    public String device;

    @Option(names = "--threads", defaultValue = "0", description = "CPU threads (0 = all cores)")
    public int threads;

    @Option(names = "--json", description = "print exactly one JSON object on stdout")
    public boolean json;

    @Option(names = "--debug", description = "show stack traces")
    public boolean debug;

    /** The options of a model loaded through the public API ({@link bitnet.api.BitnetModel}). */
    public bitnet.api.ModelOptions options() {
        if (device != null && !java.util.Set.of("auto", "cpu", "cuda", "scalar").contains(device)) {
            throw new IllegalArgumentException("--device: unknown device '" + device + "' (auto, cpu, cuda)");
        }
        if (threads < 0) {
            throw new IllegalArgumentException("--threads must be >= 0 (0 = all cores)");
        }
        return new bitnet.api.ModelOptions(device == null ? "auto" : device, threads, false);
    }
}
