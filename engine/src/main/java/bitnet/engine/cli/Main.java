package bitnet.engine.cli;

import bitnet.io.BadInputException;
import java.io.PrintWriter;
import java.util.logging.ConsoleHandler;
import java.util.logging.Formatter;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * Entry point of ./bitnet. Exit codes (cli.md): 0 ok, 2 usage, 3 bad input (one line naming
 * the file, no stack trace unless --debug), 4 quality gate failed, 1 anything else.
 */
// scope INHERIT: every subcommand gets -h/--help and -V/--version too (`bitnet compress --help`)
@Command(name = "bitnet", mixinStandardHelpOptions = true, version = "bitnet 0.1.0", scope = CommandLine.ScopeType.INHERIT,
        description = "Pure-JVM ternary (BitNet b1.58) compression of HuggingFace causal LMs.",
        subcommands = {InspectCmd.class, TokenizeCmd.class, DetokenizeCmd.class, LogitsCmd.class, GradsCmd.class,
            TrainStepsCmd.class, PplCmd.class, GenerateCmd.class, FinetuneCmd.class,
            CompressCmd.class, GradientFlowCmd.class, SpeedCmd.class})
public final class Main implements Runnable {

    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Runs a command line and returns the exit code (tests call this directly). */
    public static int run(String... args) {
        setupLogging();
        boolean debug = java.util.Arrays.asList(args).contains("--debug");
        CommandLine cl = new CommandLine(new Main());
        cl.setExecutionExceptionHandler((ex, cmd, parsed) -> {
            Throwable t = ex;
            while (t.getCause() != null && !(t instanceof BadInputException) && !(t instanceof QualityGateException)
                    && (t instanceof java.util.concurrent.CompletionException || t instanceof java.util.concurrent.ExecutionException
                    || t instanceof java.io.UncheckedIOException && t.getCause() instanceof java.nio.file.NoSuchFileException)) {
                t = t.getCause();
            }
            PrintWriter err = cmd.getErr();
            if (debug) {
                ex.printStackTrace(err);
            }
            if (t instanceof BadInputException) {
                err.println("bitnet: error: " + t.getMessage());
                return 3;
            }
            if (t instanceof QualityGateException) {
                err.println("bitnet: quality gate failed: " + t.getMessage());
                return 4;
            }
            if (t instanceof CommandLine.ParameterException pe) {
                err.println("bitnet: " + pe.getMessage());
                return 2;
            }
            if (t instanceof IllegalArgumentException) {
                err.println("bitnet: error: " + t.getMessage());
                return 2;
            }
            if (t instanceof bitnet.api.OutOfMemoryException) {
                err.println("bitnet: " + t.getMessage());
                return 1;
            }
            if (t instanceof OutOfMemoryError) {
                err.println("bitnet: out of memory: use a smaller batch or sequence length, or more heap (BITNET_JAVA_OPTS=-Xmx...)");
                return 1;
            }
            err.println("bitnet: failed: " + t + (debug ? "" : " (run with --debug for the stack trace)"));
            return 1;
        });
        return cl.execute(args);
    }

    @Override
    public void run() {
        new CommandLine(this).usage(System.err);
        throw new CommandLine.ParameterException(new CommandLine(this), "a subcommand is required");
    }

    static void setupLogging() {
        Logger root = Logger.getLogger("");
        for (var h : root.getHandlers()) {
            root.removeHandler(h);
        }
        ConsoleHandler h = new ConsoleHandler(); // stderr
        h.setFormatter(new Formatter() {
            @Override
            public String format(LogRecord r) {
                return "[bitnet] " + r.getMessage() + System.lineSeparator();
            }
        });
        h.setLevel(Level.INFO);
        root.addHandler(h);
        root.setLevel(Boolean.getBoolean("bitnet.quiet") ? Level.WARNING : Level.INFO);
    }
}
