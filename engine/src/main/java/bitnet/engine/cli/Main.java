package bitnet.engine.cli;

import bitnet.io.BadInputException;
import java.io.IOException;
import java.io.PrintWriter;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
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
@Command(
        name = "bitnet",
        mixinStandardHelpOptions = true,
        version = "bitnet 0.1.0",
        scope = CommandLine.ScopeType.INHERIT,
        description = "Pure-JVM ternary (BitNet b1.58) compression of HuggingFace causal LMs.")
public final class Main implements Runnable {
    /**
     * The subcommands, in the order `bitnet --help` lists them. They are registered here rather
     * than in the annotation so that a run builds only the one it names: picocli reflects over
     * every registered command at start-up, which took ~0.3 s of a cold `bitnet ppl`.
     */
    static final List<Class<?>> SUBCOMMANDS = List.of(
            InspectCmd.class,
            TokenizeCmd.class,
            DetokenizeCmd.class,
            LogitsCmd.class,
            GradsCmd.class,
            TrainStepsCmd.class,
            PplCmd.class,
            GenerateCmd.class,
            FinetuneCmd.class,
            CompressCmd.class,
            GradientFlowCmd.class,
            SpeedCmd.class,
            ExportCmd.class);

    /** The whole command tree (help, completion, tests). */
    static CommandLine commandLine() {
        CommandLine cl = new CommandLine(new Main());
        for (Class<?> c : SUBCOMMANDS) {
            cl.addSubcommand(c);
        }
        return cl;
    }

    /**
     * The tree a run of args needs: only the subcommand named by the first argument when it names
     * one (its parse, help and errors are the same as in the whole tree), else the whole tree.
     */
    static CommandLine commandLine(String... args) {
        if (args.length > 0) {
            for (Class<?> c : SUBCOMMANDS) {
                if (c.getAnnotation(Command.class).name().equals(args[0])) {
                    CommandLine cl = new CommandLine(new Main());
                    cl.addSubcommand(c);
                    return cl;
                }
            }
        }
        return commandLine();
    }

    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Runs a command line and returns the exit code (tests call this directly). */
    public static int run(String... args) {
        preload(args);
        setupLogging();
        boolean debug = java.util.Arrays.asList(args).contains("--debug");
        boolean json = java.util.Arrays.asList(args).contains("--json");
        Outputs.resetPrinted();
        CommandLine cl = commandLine(args);
        // numeric options are range-checked before any command starts (exit 2 naming the flag)
        cl.setExecutionStrategy(pr -> {
            OptionRules.check(pr);
            return new CommandLine.RunLast().execute(pr);
        });
        cl.setParameterExceptionHandler((pe, a) -> {
            PrintWriter err = pe.getCommandLine().getErr();
            err.println("bitnet: " + pe.getMessage() + " (see '"
                    + pe.getCommandLine().getCommandSpec().qualifiedName() + " --help')");
            return jsonError(json, pe.getMessage(), 2);
        });
        cl.setExecutionExceptionHandler((ex, cmd, parsed) -> handle(ex, cmd, debug, json));
        try {
            return cl.execute(args);
        } catch (OutOfMemoryError e) { // an Error passes picocli's handlers: still one line, no stack trace
            if (debug) {
                e.printStackTrace();
            }
            String line = bitnet.engine.util.Memory.outOfMemoryMessage(e);
            System.err.println("bitnet: " + line);
            return jsonError(json, line, 1);
        }
    }

    /** With --json, an error still prints one JSON object on stdout (unless the command already printed one). */
    private static int jsonError(boolean json, String message, int code) {
        if (json && !Outputs.printed()) {
            Map<String, Object> o = new LinkedHashMap<>();
            o.put("success", false);
            o.put("error", message);
            o.put("exit_code", code);
            Outputs.printJson(o);
        }
        return code;
    }

    /** Prints the one-line error for a failed command and returns its exit code (and the message for --json). */
    private static int handle(Exception ex, CommandLine cmd, boolean debug, boolean json) {
        Throwable t = ex;
        while (t.getCause() != null
                && !(t instanceof BadInputException)
                && !(t instanceof QualityGateException)
                && (t instanceof java.util.concurrent.CompletionException
                        || t instanceof java.util.concurrent.ExecutionException
                        || t instanceof java.io.UncheckedIOException
                                && t.getCause() instanceof java.nio.file.NoSuchFileException)) {
            t = t.getCause();
        }
        PrintWriter err = cmd.getErr();
        if (debug) {
            ex.printStackTrace(err);
        }
        String line;
        int code;
        if (t instanceof BadInputException) {
            line = "error: " + t.getMessage();
            code = 3;
        } else if (t instanceof QualityGateException) {
            line = "quality gate failed: " + t.getMessage();
            code = 4;
        } else if (t instanceof CommandLine.ParameterException) {
            line = t.getMessage();
            code = 2;
        } else if (t instanceof IllegalArgumentException) {
            line = "error: " + t.getMessage();
            code = 2;
        } else if (t instanceof bitnet.engine.util.NonFiniteException) {
            line = "error: " + t.getMessage();
            code = 1;
        } else if (t instanceof bitnet.api.OutOfMemoryException) {
            line = t.getMessage();
            code = 1;
        } else if (t instanceof OutOfMemoryError) {
            line = bitnet.engine.util.Memory.outOfMemoryMessage(t);
            code = 1;
        } else {
            line = "failed: " + t;
            code = 1;
        }
        err.println("bitnet: " + line
                + (code == 1 && !debug && !line.startsWith("error: ") && !(t instanceof OutOfMemoryError)
                        ? " (run with --debug for the stack trace)"
                        : ""));
        return jsonError(json, line.startsWith("error: ") ? line.substring(7) : line, code);
    }

    @Override
    public void run() {
        CommandLine all = commandLine();
        all.usage(System.err);
        throw new CommandLine.ParameterException(all, "a subcommand is required");
    }

    private static final java.util.concurrent.atomic.AtomicBoolean PRELOADED =
            new java.util.concurrent.atomic.AtomicBoolean();

    /**
     * Loads and initializes Jackson on a second thread while this one parses the command line:
     * almost every command reads JSON (config.json, tokenizer.json) or prints it, and Jackson's
     * first use costs ~0.3 s of class loading that a second core can take off the critical path.
     * Results are thrown away; a failure here is ignored (the real use reports it).
     */
    private static void preload(String... args) {
        if (!PRELOADED.compareAndSet(false, true)) {
            return;
        }
        bitnet.api.BitnetModel.prepare(deviceOf(args));
        Thread t = new Thread(
                () -> {
                    try {
                        Outputs.json().readTree("{\"a\": [1, 2.5, \"b\", true, null, {\"c\": -3}]}");
                    } catch (IOException | RuntimeException e) {
                        // nothing to do: this only warms class loading
                    }
                },
                "bitnet-preload");
        t.setDaemon(true);
        t.start();
    }

    /** The --device of a command line (either spelling), else the bitnet.device property or auto. */
    static String deviceOf(String... args) {
        for (int i = 0; i < args.length; i++) {
            if (args[i].equals("--device") && i + 1 < args.length) {
                return args[i + 1];
            }
            if (args[i].startsWith("--device=")) {
                return args[i].substring("--device=".length());
            }
        }
        return System.getProperty("bitnet.device", "auto");
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
