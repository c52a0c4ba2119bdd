package bitnet.engine.cli;

import bitnet.io.BadInputException;
import bitnet.io.SafetensorsWriter;
import bitnet.io.TensorData;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collection;
import java.util.Map;

/** Writing command outputs: the no-overwrite rule, atomic safetensors, the one JSON object on stdout. */
public final class Outputs {
    public static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private Outputs() {
    }

    /** Refuses an existing output unless overwrite is set. */
    public static void checkWritable(Path out, boolean overwrite) {
        if (Files.exists(out) && !overwrite) {
            throw new BadInputException(out, "output exists; pass --overwrite to replace it");
        }
        Path parent = out.toAbsolutePath().getParent();
        if (parent != null && !Files.isDirectory(parent)) {
            throw new BadInputException(out, "parent directory does not exist");
        }
    }

    public static void writeSafetensors(Path out, Collection<TensorData> tensors, Map<String, String> meta) {
        try {
            SafetensorsWriter.write(out, tensors, meta);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + out + ": " + e.getMessage(), e);
        }
    }

    public static void printJson(Object o) {
        try {
            System.out.println(JSON.writeValueAsString(o));
            System.out.flush();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
