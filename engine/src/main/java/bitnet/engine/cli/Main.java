package bitnet.engine.cli;

/** Entry point of ./bitnet (placeholder until the subcommands land). */
public final class Main {
    public static void main(String[] args) {
        System.err.println("bitnet: no subcommands yet");
        System.exit(2);
    }
}
