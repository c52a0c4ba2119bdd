package bitnet.engine.util;

import bitnet.io.BadInputException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Objects;

/**
 * The rules that keep an output from destroying the user's files, decided in one place for every
 * command that writes: an output never is, contains or lies inside an input (model, data,
 * tokenizer, config); an output path that exists must be a regular file or a directory (never a
 * device, FIFO or dangling link); and {@code --overwrite} replaces only what this engine wrote
 * (a directory holding the completion marker, a safetensors file whose metadata names this
 * writer). Checked before any work starts.
 *
 * <p>Paths are compared after resolving symbolic links (the nearest existing ancestor of a path
 * that does not exist yet), so a link cannot smuggle an input in or out.
 */
public final class OutputSafety {
    /** The safetensors metadata key and value that mark a file as written by this engine. */
    public static final String WRITER_KEY = "bitnet.writer";

    public static final String WRITER_VALUE = "bitnet-jvm";

    private OutputSafety() {}

    /** The real location of p: symbolic links resolved in the part of the path that exists. */
    static Path real(Path p) {
        Path abs = p.toAbsolutePath().normalize();
        Path existing = abs;
        List<Path> rest = new ArrayList<>();
        while (existing != null && !Files.exists(existing)) {
            rest.add(existing.getFileName());
            existing = existing.getParent();
        }
        if (existing == null) {
            return abs;
        }
        Path r;
        try {
            r = existing.toRealPath();
        } catch (IOException e) {
            r = existing;
        }
        for (int i = rest.size() - 1; i >= 0; i--) {
            r = r.resolve(rest.get(i));
        }
        return r;
    }

    /**
     * Refuses an output that is, contains or lies inside one of the inputs. Also checks the
     * siblings a directory output uses while it is written (OUT.partial, OUT.lock).
     */
    public static void checkSeparate(Path out, Collection<Path> inputs) {
        Path o = real(out);
        List<Path> outs =
                List.of(o, o.resolveSibling(o.getFileName() + ".partial"), o.resolveSibling(o.getFileName() + ".lock"));
        for (Path in : inputs) {
            if (in == null || !Files.exists(in, LinkOption.NOFOLLOW_LINKS)) {
                continue;
            }
            Path i = real(in);
            for (Path x : outs) {
                if (x.equals(i)) {
                    throw new BadInputException(out, "the output is an input (" + in + "); choose another output path");
                }
                if (i.startsWith(x)) {
                    throw new BadInputException(
                            out, "the output would contain the input " + in + "; choose another output path");
                }
                if (x.startsWith(i)) {
                    throw new BadInputException(
                            out, "the output lies inside the input " + in + "; choose another output path");
                }
            }
        }
    }

    /** Refuses what is at path when it exists and is not a plain file or directory (device, FIFO, socket, dangling link). */
    public static void checkKind(Path out) {
        if (Files.isSymbolicLink(out) && !Files.exists(out)) {
            throw new BadInputException(out, "the output is a dangling symbolic link");
        }
        if (Files.exists(out) && !Files.isRegularFile(out) && !Files.isDirectory(out)) {
            throw new BadInputException(
                    out,
                    "the output exists and is not a regular file or directory (a device, FIFO or socket); refusing to replace it");
        }
    }

    /**
     * Checks a single-file output before any work: not an input, a plain file if it exists, and
     * replaced only with overwrite and only when this engine wrote it.
     */
    public static void checkFile(Path out, boolean overwrite, Collection<Path> inputs) {
        Objects.requireNonNull(out);
        checkKind(out);
        checkSeparate(out, inputs);
        if (Files.isDirectory(out)) {
            throw new BadInputException(out, "the output is a directory; give a file path");
        }
        if (Files.exists(out)) {
            if (!overwrite) {
                throw new BadInputException(out, "output exists; pass --overwrite to replace it");
            }
            if (!writtenByUs(out)) {
                throw new BadInputException(
                        out,
                        "output exists and was not written by bitnet; refusing to replace it even with --overwrite (remove it yourself)");
            }
        }
        Path parent = out.toAbsolutePath().getParent();
        if (parent != null && !Files.isDirectory(parent)) {
            throw new BadInputException(out, "parent directory does not exist");
        }
    }

    /**
     * Checks a directory output before any work: not an input, a directory if it exists, and
     * replaced only with overwrite and only when it is a complete output of this engine.
     */
    public static void checkDirectory(Path out, boolean overwrite, Collection<Path> inputs) {
        checkKind(out);
        checkSeparate(out, inputs);
        if (Files.exists(out)) {
            if (!overwrite) {
                throw new BadInputException(out, "output exists; pass --overwrite to replace it");
            }
            if (!Files.isDirectory(out)) {
                throw new BadInputException(out, "output exists and is not a directory; refusing to replace it");
            }
            if (!OutputDir.isComplete(out)) {
                throw new BadInputException(
                        out,
                        "output exists and is not a bitnet output (no " + OutputDir.MARKER
                                + " marker); refusing to replace it even with --overwrite (remove it yourself)");
            }
        }
    }

    /** True when path is a safetensors (or GGUF) file whose metadata carries this engine's writer mark. */
    public static boolean writtenByUs(Path path) {
        if (bitnet.engine.export.GgufExporter.writtenByUs(path)) {
            return true;
        }
        try (InputStream in = Files.newInputStream(path)) {
            byte[] len = in.readNBytes(8);
            if (len.length != 8) {
                return false;
            }
            long n = ByteBuffer.wrap(len).order(ByteOrder.LITTLE_ENDIAN).getLong();
            if (n <= 0 || n > (1 << 26) || n > Files.size(path) - 8) {
                return false;
            }
            byte[] header = in.readNBytes((int) n);
            var node = new com.fasterxml.jackson.databind.ObjectMapper()
                    .readTree(new String(header, StandardCharsets.UTF_8));
            var meta = node == null ? null : node.get("__metadata__");
            return meta != null && WRITER_VALUE.equals(meta.path(WRITER_KEY).asText(null));
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }
}
