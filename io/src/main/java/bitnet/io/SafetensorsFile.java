package bitnet.io;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A safetensors file, memory-mapped into an {@link Arena}; tensors are slices of the mapping
 * (no weight bytes are copied). Every header field is validated before use: header length
 * (at most 100 MB and inside the file), JSON shape, dtype names, shapes, and data offsets
 * (inside the data area, size = dtype x shape, no overlaps).
 */
public final class SafetensorsFile {
    public static final long MAX_HEADER = 100L * 1024 * 1024;

    private static final ObjectMapper JSON = new ObjectMapper(JsonFactory.builder()
                    .streamReadConstraints(StreamReadConstraints.builder()
                            .maxNestingDepth(16)
                            .maxStringLength(Math.toIntExact(MAX_HEADER))
                            .build())
                    .build())
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

    private final Path path;
    private final Map<String, TensorData> tensors;
    private final Map<String, String> metadata;

    private SafetensorsFile(Path path, Map<String, TensorData> tensors, Map<String, String> metadata) {
        this.path = path;
        this.tensors = tensors;
        this.metadata = metadata;
    }

    /** Maps and validates the file; the mapping lives as long as the arena. */
    public static SafetensorsFile open(Path path, Arena arena) {
        return parse(path, bitnet.io.MappedFiles.map(path, arena));
    }

    /** Parses an in-memory safetensors image (used by tests and fuzzing). */
    public static SafetensorsFile parse(Path path, MemorySegment all) {
        long size = all.byteSize();
        if (size < 8) {
            throw new BadInputException(
                    path, "not a safetensors file: " + size + " bytes, shorter than the 8-byte header length");
        }
        long n = all.get(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0);
        if (n < 2 || n > MAX_HEADER) {
            throw new BadInputException(path, "header length " + n + " is out of range (2.." + MAX_HEADER + ")");
        }
        if (n > size - 8) {
            throw new BadInputException(
                    path,
                    "header length " + n + " exceeds the file (" + size + " bytes): truncated or not safetensors");
        }
        byte[] headerBytes = all.asSlice(8, n).toArray(ValueLayout.JAVA_BYTE);
        JsonNode header;
        try {
            header = JSON.readTree(new String(headerBytes, StandardCharsets.UTF_8).trim());
        } catch (IOException e) {
            throw new BadInputException(path, "header is not valid JSON: " + firstLine(e.getMessage()), e);
        }
        if (header == null || !header.isObject()) {
            throw new BadInputException(path, "header is not a JSON object");
        }
        MemorySegment data = all.asSlice(8 + n);
        long dataSize = data.byteSize();
        Map<String, TensorData> tensors = new LinkedHashMap<>();
        Map<String, String> metadata = new LinkedHashMap<>();
        List<long[]> ranges = new ArrayList<>();
        List<String> rangeNames = new ArrayList<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = header.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            String name = e.getKey();
            JsonNode v = e.getValue();
            if (name.equals("__metadata__")) {
                if (!v.isObject()) {
                    throw new BadInputException(path, "__metadata__ is not an object");
                }
                v.fields().forEachRemaining(m -> {
                    if (!m.getValue().isTextual()) {
                        throw new BadInputException(path, "__metadata__ value '" + m.getKey() + "' is not a string");
                    }
                    metadata.put(m.getKey(), m.getValue().asText());
                });
                continue;
            }
            if (!v.isObject()) {
                throw new BadInputException(path, "tensor '" + name + "': entry is not an object");
            }
            JsonNode dt = v.get("dtype");
            JsonNode sh = v.get("shape");
            JsonNode off = v.get("data_offsets");
            if (dt == null
                    || !dt.isTextual()
                    || sh == null
                    || !sh.isArray()
                    || off == null
                    || !off.isArray()
                    || off.size() != 2) {
                throw new BadInputException(
                        path, "tensor '" + name + "': needs dtype, shape and data_offsets [begin, end]");
            }
            DType dtype = DType.fromSafetensors(dt.asText());
            if (dtype == null) {
                throw new BadInputException(path, "tensor '" + name + "': unknown dtype '" + dt.asText() + "'");
            }
            long[] shape = new long[sh.size()];
            long numel = 1;
            for (int i = 0; i < shape.length; i++) {
                JsonNode d = sh.get(i);
                if (!d.isIntegralNumber() || !d.canConvertToLong() || d.asLong() < 0) {
                    throw new BadInputException(path, "tensor '" + name + "': bad shape " + sh);
                }
                shape[i] = d.asLong();
                try {
                    numel = Math.multiplyExact(numel, shape[i]);
                } catch (ArithmeticException ex) {
                    throw new BadInputException(path, "tensor '" + name + "': shape " + sh + " overflows");
                }
            }
            if (!off.get(0).isIntegralNumber()
                    || !off.get(1).isIntegralNumber()
                    || !off.get(0).canConvertToLong()
                    || !off.get(1).canConvertToLong()) {
                throw new BadInputException(path, "tensor '" + name + "': data_offsets are not integers");
            }
            long begin = off.get(0).asLong();
            long end = off.get(1).asLong();
            long bytes;
            try {
                bytes = Math.multiplyExact(numel, dtype.size());
            } catch (ArithmeticException ex) {
                throw new BadInputException(path, "tensor '" + name + "': size overflows");
            }
            if (begin < 0 || end < begin || end > dataSize) {
                throw new BadInputException(
                        path,
                        "tensor '" + name + "': data_offsets [" + begin + ", " + end + "] exceed the data area ("
                                + dataSize + " bytes): truncated file or bad offsets");
            }
            if (end - begin != bytes) {
                throw new BadInputException(
                        path,
                        "tensor '" + name + "': " + (end - begin) + " bytes but " + dtype.safetensorsName() + sh
                                + " needs " + bytes);
            }
            ranges.add(new long[] {begin, end, ranges.size()});
            rangeNames.add(name);
            tensors.put(name, new TensorData(name, dtype, shape, data.asSlice(begin, bytes)));
        }
        ranges.sort(Comparator.<long[]>comparingLong(r -> r[0]).thenComparingLong(r -> r[1]));
        // Compare each range with the furthest-reaching earlier one, not just its neighbour, so a
        // range nested inside an earlier long one is caught even with empty tensors in between.
        long[] reach = null;
        for (long[] b : ranges) {
            if (b[1] == b[0]) {
                continue;
            }
            if (reach != null && b[0] < reach[1]) {
                throw new BadInputException(
                        path,
                        "tensors '" + rangeNames.get((int) reach[2]) + "' and '" + rangeNames.get((int) b[2])
                                + "' overlap in the data area");
            }
            if (reach == null || b[1] > reach[1]) {
                reach = b;
            }
        }
        return new SafetensorsFile(path, Collections.unmodifiableMap(tensors), Collections.unmodifiableMap(metadata));
    }

    private static String firstLine(String s) {
        if (s == null) {
            return "";
        }
        int i = s.indexOf('\n');
        return i < 0 ? s : s.substring(0, i);
    }

    public Path path() {
        return path;
    }

    /** Tensors in header order. */
    public Map<String, TensorData> tensors() {
        return tensors;
    }

    public TensorData get(String name) {
        TensorData t = tensors.get(name);
        if (t == null) {
            throw new BadInputException(path, "no tensor named '" + name + "'");
        }
        return t;
    }

    public boolean has(String name) {
        return tensors.containsKey(name);
    }

    public Map<String, String> metadata() {
        return metadata;
    }
}
