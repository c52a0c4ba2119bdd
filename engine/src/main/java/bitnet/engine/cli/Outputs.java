package bitnet.engine.cli;

import bitnet.engine.util.OutputSafety;
import bitnet.io.SafetensorsWriter;
import bitnet.io.TensorData;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.Collection;
import java.util.Map;

/** Writing command outputs: the no-overwrite rule, atomic safetensors, the one JSON object on stdout. */
public final class Outputs {
    /** Built on first use (Jackson's start-up is ~0.3 s of class loading): see {@link #json()}. */
    private static final class Json {
        static final ObjectMapper MAPPER = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    }

    /** The one indenting ObjectMapper of the CLI. */
    public static ObjectMapper json() {
        return Json.MAPPER;
    }

    private Outputs() {}

    /**
     * Refuses an output file that is or lies inside an input, that is not a plain file, or that
     * exists without overwrite (or was not written by this engine): {@link OutputSafety#checkFile}.
     */
    public static void checkWritable(Path out, boolean overwrite, Collection<Path> inputs) {
        OutputSafety.checkFile(out, overwrite, inputs);
    }

    /** Writes a safetensors output, marked in its metadata as this engine's (so --overwrite may replace it later). */
    public static void writeSafetensors(Path out, Collection<TensorData> tensors, Map<String, String> meta) {
        try {
            Map<String, String> m = new java.util.TreeMap<>(meta);
            m.put(OutputSafety.WRITER_KEY, OutputSafety.WRITER_VALUE);
            SafetensorsWriter.write(out, tensors, m);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + out + ": " + e.getMessage(), e);
        }
    }

    private static volatile boolean printed;

    /** Whether this run printed its JSON object already (Main then prints no error object after it). */
    static boolean printed() {
        return printed;
    }

    static void resetPrinted() {
        printed = false;
    }

    public static void printJson(Object o) {
        try {
            System.out.println(json().writeValueAsString(o));
            System.out.flush();
            printed = true;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
