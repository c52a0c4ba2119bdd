/**
 * The engine: models, training, quantization, the compression pipeline and the command line.
 * Exports only the public API, {@code bitnet.api}; picocli and Jackson get reflective access to
 * the packages whose classes they fill or print.
 */
module bitnet.engine {
    requires transitive bitnet.io;
    requires bitnet.kernels;
    requires com.fasterxml.jackson.databind;
    requires info.picocli;
    requires java.logging;
    requires jdk.management; // SpeedCmd reads process CPU time and memory beans

    exports bitnet.api;

    opens bitnet.engine.cli to
            info.picocli,
            com.fasterxml.jackson.databind;
    opens bitnet.engine.compress to
            com.fasterxml.jackson.databind;
}
