package bitnet.io;

import java.nio.file.Path;

/**
 * The engine's one typed input error: a file (or argument) that is missing, corrupt or unsupported.
 * The CLI turns it into exit code 3 with a one-line message naming the file and the problem.
 * It is not for programming errors; those stay ordinary runtime exceptions.
 */
public class BadInputException extends RuntimeException {
    private final String source;

    public BadInputException(Path file, String problem) {
        this(String.valueOf(file), problem, null);
    }

    public BadInputException(Path file, String problem, Throwable cause) {
        this(String.valueOf(file), problem, cause);
    }

    public BadInputException(String source, String problem, Throwable cause) {
        super(source + ": " + problem, cause);
        this.source = source;
    }

    /** The file (or argument) the problem is in. */
    public String source() {
        return source;
    }
}
