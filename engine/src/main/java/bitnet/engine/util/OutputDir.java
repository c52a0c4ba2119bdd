package bitnet.engine.util;

import bitnet.io.BadInputException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Comparator;
import java.util.stream.Stream;

/**
 * An output directory written atomically: everything goes to OUT.partial, a completion marker
 * is written last, then the directory is renamed to OUT. A lock file (OUT.lock, holding the
 * pid) keeps two runs from writing the same output; a lock whose process is gone is taken over.
 * A killed run leaves no OUT (only OUT.partial, which --resume continues or the next run
 * replaces), so an OUT that exists is always complete. A run that fails with an error removes
 * its OUT.partial unless it is {@link #resumable()}, and always its lock. A lock is stale, and
 * taken over, when its pid is gone, is not a bitnet run (another program that reused the pid),
 * or started at another time than the lock records.
 */
public final class OutputDir implements AutoCloseable {
    public static final String MARKER = ".bitnet-complete";
    private final Path out;
    private final Path partial;
    private final Path lock;
    private final boolean overwrite;
    private boolean committed;
    private boolean resumable;

    private OutputDir(Path out, boolean overwrite) {
        this.out = out.toAbsolutePath().normalize();
        this.partial = this.out.resolveSibling(this.out.getFileName() + ".partial");
        this.lock = this.out.resolveSibling(this.out.getFileName() + ".lock");
        this.overwrite = overwrite;
    }

    /**
     * Checks the target (see {@link OutputSafety}: never an input, replaced only when it is a
     * complete output of this engine), takes the lock and prepares OUT.partial (kept when
     * keepPartial, for resuming; otherwise emptied).
     */
    public static OutputDir begin(Path out, boolean overwrite, boolean keepPartial, java.util.Collection<Path> inputs) {
        OutputDir d = new OutputDir(out, overwrite);
        OutputSafety.checkDirectory(out, overwrite, inputs);
        Path parent = d.out.getParent();
        if (parent == null || !Files.isDirectory(parent)) {
            throw new BadInputException(out, "parent directory does not exist");
        }
        d.acquire();
        try {
            if (!keepPartial) {
                deleteTree(d.partial);
            }
            Files.createDirectories(d.partial);
        } catch (IOException e) {
            d.release();
            throw new UncheckedIOException("cannot create " + d.partial, e);
        }
        return d;
    }

    private void acquire() {
        for (int attempt = 0; attempt < 2; attempt++) {
            try {
                ProcessHandle me = ProcessHandle.current();
                Files.writeString(
                        lock,
                        me.pid() + "\n"
                                + me.info().startInstant().map(Object::toString).orElse("") + "\n",
                        java.nio.file.StandardOpenOption.CREATE_NEW,
                        java.nio.file.StandardOpenOption.WRITE);
                return;
            } catch (FileAlreadyExistsException e) {
                long pid = -1;
                String started = "";
                try {
                    String[] l = Files.readString(lock).split("\n");
                    pid = Long.parseLong(l[0].trim());
                    started = l.length > 1 ? l[1].trim() : "";
                } catch (IOException | NumberFormatException ignored) {
                    // unreadable lock: treat as stale
                }
                if (pid > 0 && ownerAlive(pid, started)) {
                    throw new BadInputException(
                            out, "another run (pid " + pid + ") is writing this output (lock " + lock + ")");
                }
                java.util.logging.Logger.getLogger("bitnet")
                        .info("taking over the stale lock " + lock + " (pid " + pid
                                + " is gone or is not a bitnet run)");
                try {
                    Files.deleteIfExists(lock);
                } catch (IOException ex) {
                    throw new UncheckedIOException(ex);
                }
            } catch (IOException e) {
                throw new UncheckedIOException("cannot create lock " + lock, e);
            }
        }
        throw new BadInputException(out, "cannot take the lock " + lock);
    }

    /**
     * Whether the lock's pid is a live bitnet run: the same process (start time as recorded, when
     * both are known) whose command line names bitnet (the launcher's jar or a test JVM running it).
     * A pid reused by an unrelated program does not block forever.
     */
    static boolean ownerAlive(long pid, String started) {
        var h = ProcessHandle.of(pid);
        if (h.isEmpty() || !h.get().isAlive()) {
            return false;
        }
        var info = h.get().info();
        if (!started.isEmpty()
                && info.startInstant().isPresent()
                && !info.startInstant().get().toString().equals(started)) {
            return false;
        }
        String cmd = info.commandLine().orElse(info.command().orElse(""));
        // unknown command line (another user's process): assume it is ours, refusing is the safe side
        return cmd.isEmpty()
                || cmd.contains("bitnet")
                || pid == ProcessHandle.current().pid();
    }

    /** Keeps OUT.partial when the run fails (finetune: --resume continues from its checkpoints). */
    public OutputDir resumable() {
        resumable = true;
        return this;
    }

    /** Where files are written until commit. */
    public Path dir() {
        return partial;
    }

    public Path finalPath() {
        return out;
    }

    /** Writes the completion marker and moves the directory into place. */
    public void commit() {
        try {
            Files.writeString(partial.resolve(MARKER), "complete\n");
            if (Files.exists(out)) {
                if (!overwrite || !isComplete(out)) {
                    throw new BadInputException(out, "output appeared while running; not overwriting it");
                }
                Path trash = out.resolveSibling(
                        out.getFileName() + ".old-" + ProcessHandle.current().pid());
                Files.move(out, trash, StandardCopyOption.ATOMIC_MOVE);
                Files.move(partial, out, StandardCopyOption.ATOMIC_MOVE);
                deleteTree(trash);
            } else {
                Files.move(partial, out, StandardCopyOption.ATOMIC_MOVE);
            }
            committed = true;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot move " + partial + " to " + out, e);
        }
    }

    public static boolean isComplete(Path dir) {
        return Files.isRegularFile(dir.resolve(MARKER));
    }

    private void release() {
        try {
            Files.deleteIfExists(lock);
        } catch (IOException ignored) {
            // a stale lock is taken over by the next run
        }
    }

    @Override
    public void close() {
        if (!committed && !resumable) {
            try {
                deleteTree(partial);
            } catch (IOException ignored) {
                // the next run replaces it
            }
        }
        release();
    }

    public boolean committed() {
        return committed;
    }

    public static void deleteTree(Path p) throws IOException {
        if (!Files.exists(p)) {
            return;
        }
        try (Stream<Path> s = Files.walk(p)) {
            for (Path x : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(x);
            }
        }
    }
}
