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
 * replaces), so an OUT that exists is always complete.
 */
public final class OutputDir implements AutoCloseable {
    public static final String MARKER = ".bitnet-complete";
    private final Path out;
    private final Path partial;
    private final Path lock;
    private final boolean overwrite;
    private boolean committed;

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
                Files.writeString(lock, Long.toString(ProcessHandle.current().pid()), java.nio.file.StandardOpenOption.CREATE_NEW,
                        java.nio.file.StandardOpenOption.WRITE);
                return;
            } catch (FileAlreadyExistsException e) {
                long pid = -1;
                try {
                    pid = Long.parseLong(Files.readString(lock).trim());
                } catch (IOException | NumberFormatException ignored) {
                    // unreadable lock: treat as stale
                }
                if (pid > 0 && ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)) {
                    throw new BadInputException(out, "another run (pid " + pid + ") is writing this output (lock " + lock + ")");
                }
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
                Path trash = out.resolveSibling(out.getFileName() + ".old-" + ProcessHandle.current().pid());
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
