package bitnet.engine.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** Main builds only the subcommand a run names; help, version and errors stay those of the whole tree. */
class MainTreeTest {
    @Test
    void aRunNamingASubcommandBuildsOnlyThatOne() {
        Set<String> names = new HashSet<>();
        for (Class<?> c : Main.SUBCOMMANDS) {
            String name = c.getAnnotation(Command.class).name();
            assertTrue(names.add(name), "two subcommands named " + name);
            CommandLine one = Main.commandLine(name, "--help");
            assertEquals(List.of(name), List.copyOf(one.getSubcommands().keySet()));
        }
        assertEquals(13, names.size());
        assertEquals(names, Main.commandLine().getSubcommands().keySet());
        assertEquals(names, Main.commandLine("--help").getSubcommands().keySet());
        assertEquals(names, Main.commandLine("no-such-command").getSubcommands().keySet());
        assertEquals(names, Main.commandLine().getSubcommands().keySet());
    }

    @Test
    void helpAndVersionWorkOnEverySubcommandAndTheRoot() {
        for (Class<?> c : Main.SUBCOMMANDS) {
            String name = c.getAnnotation(Command.class).name();
            Cli.Result h = Cli.run(name, "--help");
            assertEquals(0, h.code(), name + " --help: " + h.err());
            assertTrue(h.out().contains("Usage: bitnet " + name), name + " --help printed: " + h.out());
            Cli.Result v = Cli.run(name, "-V");
            assertEquals(0, v.code(), name + " -V: " + v.err());
            assertTrue(v.out().contains("bitnet 0.1.0"), v.out());
        }
        Cli.Result root = Cli.run("--help");
        assertEquals(0, root.code());
        for (Class<?> c : Main.SUBCOMMANDS) {
            assertTrue(root.out().contains(c.getAnnotation(Command.class).name()), root.out());
        }
        Cli.Result none = Cli.run("no-such-command");
        assertEquals(2, none.code());
        assertTrue(none.err().contains("'no-such-command'"), none.err());
    }
}
