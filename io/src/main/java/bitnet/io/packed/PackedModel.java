package bitnet.io.packed;

import bitnet.io.BadInputException;
import bitnet.io.DType;
import bitnet.io.Packing;
import bitnet.io.SafetensorsFile;
import bitnet.io.TensorData;
import bitnet.io.TernaryPacking;
import bitnet.io.packed.PackedModelFormat.Kind;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * An opened {@code bitnet_quantized_model.safetensors} ({@link PackedModelFormat}): the original
 * tensor names with their kind and shape, and their stored parts read in place from the mapping.
 * Everything is validated on open (metadata JSON, every described tensor present with the dtype
 * and shape its entry implies, no undescribed tensors, finite scales), so later accessors only
 * fail on a name the file does not hold.
 *
 * <p>It does not run models: {@link #dequantize} is a heap FP32 copy for tests and for writing the
 * FP16 model; inference wraps {@link #ternary} in a kernel weight.
 */
public final class PackedModel {

    /** One original tensor: kind, original shape and dtype; perRow only for ternary and int8. */
    public record Entry(String name, Kind kind, long[] shape, DType dtype, boolean perRow) {
        public Entry {
            shape = shape.clone();
        }

        @Override
        public long[] shape() {
            return shape.clone();
        }

        public int rows() {
            return Math.toIntExact(shape[0]);
        }

        public int cols() {
            return Math.toIntExact(shape[1]);
        }
    }

    /** A ternary tensor's parts: packed (rows, bytesPerRow) bytes, a slice of the file; scales (rows) or (1). */
    public record Ternary(
            String name, Packing packing, int rows, int cols, MemorySegment packed, float[] scales, boolean perRow) {}

    /** An int8 tensor's parts: data I8 (rows, cols), a slice of the file; scales (rows). */
    public record Int8(String name, int rows, int cols, TensorData data, float[] scales) {}

    /** An int4 tensor's parts ({@link PackedModelFormat#quantizeInt4}): codes (rows, cols/2), F16 bits of the block scales. */
    public record Int4(String name, int rows, int cols, byte[] codes, short[] scale16) {
        /** The values the codes stand for, rows x cols. */
        public float[] dequantize() {
            return PackedModelFormat.dequantizeInt4(codes, scale16, rows, cols);
        }
    }

    private final Path path;
    private final SafetensorsFile file;
    private final Packing packing;
    private final Map<String, Entry> entries;
    private final Map<String, String> extraMetadata;

    private PackedModel(
            Path path, SafetensorsFile file, Packing packing, Map<String, Entry> entries, Map<String, String> extra) {
        this.path = path;
        this.file = file;
        this.packing = packing;
        this.entries = entries;
        this.extraMetadata = extra;
    }

    static PackedModel open(Path path, Arena arena) {
        return of(path, SafetensorsFile.open(path, arena));
    }

    /** Validates an in-memory packed file image (tests and fuzzing; path names it in messages). */
    public static PackedModel parse(Path path, MemorySegment image) {
        return of(path, SafetensorsFile.parse(path, image));
    }

    private static PackedModel of(Path path, SafetensorsFile f) {
        Map<String, String> meta = f.metadata();
        if (!PackedModelFormat.FORMAT.equals(meta.get("format"))) {
            throw new BadInputException(
                    path,
                    "not a packed ternary model: metadata 'format' is " + quote(meta.get("format")) + ", expected \""
                            + PackedModelFormat.FORMAT + "\"");
        }
        if (!PackedModelFormat.FORMAT_VERSION.equals(meta.get("format_version"))) {
            throw new BadInputException(
                    path,
                    "unsupported format_version " + quote(meta.get("format_version")) + " (this reader knows \""
                            + PackedModelFormat.FORMAT_VERSION + "\")");
        }
        Packing packing;
        try {
            packing = Packing.parse(String.valueOf(meta.get("packing")));
        } catch (IllegalArgumentException e) {
            throw new BadInputException(path, "metadata 'packing': " + e.getMessage());
        }
        String tensorsJson = meta.get("tensors");
        if (tensorsJson == null) {
            throw new BadInputException(path, "metadata has no 'tensors' entry");
        }
        JsonNode root;
        try {
            root = PackedModelFormat.JSON.readTree(tensorsJson);
        } catch (IOException e) {
            throw new BadInputException(path, "metadata 'tensors' is not valid JSON", e);
        }
        if (root == null || !root.isObject()) {
            throw new BadInputException(path, "metadata 'tensors' is not a JSON object");
        }
        Map<String, Entry> entries = new LinkedHashMap<>();
        Set<String> used = new HashSet<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            Entry entry = parseEntry(path, e.getKey(), e.getValue());
            checkParts(path, f, packing, entry, used);
            entries.put(entry.name(), entry);
        }
        for (String t : f.tensors().keySet()) {
            if (!used.contains(t)) {
                throw new BadInputException(path, "tensor '" + t + "' is not described by the metadata 'tensors'");
            }
        }
        Map<String, String> extra = new LinkedHashMap<>(meta);
        extra.keySet().removeAll(List.of("format", "format_version", "packing", "tensors"));
        return new PackedModel(
                path, f, packing, Collections.unmodifiableMap(entries), Collections.unmodifiableMap(extra));
    }

    private static Entry parseEntry(Path path, String name, JsonNode v) {
        String where = "metadata 'tensors' entry '" + name + "': ";
        if (!v.isObject()) {
            throw new BadInputException(path, where + "not an object");
        }
        Kind kind = v.path("kind").isTextual() ? Kind.parse(v.get("kind").asText()) : null;
        if (kind == null) {
            throw new BadInputException(
                    path, where + "'kind' must be \"ternary\", \"int8\", \"int4\" or \"plain\", got " + v.get("kind"));
        }
        JsonNode sh = v.get("shape");
        if (sh == null || !sh.isArray()) {
            throw new BadInputException(path, where + "'shape' is not an array");
        }
        long[] shape = new long[sh.size()];
        for (int i = 0; i < shape.length; i++) {
            JsonNode d = sh.get(i);
            if (!d.isIntegralNumber() || !d.canConvertToInt() || d.asInt() < 0) {
                throw new BadInputException(path, where + "bad shape " + sh);
            }
            shape[i] = d.asInt();
        }
        DType dtype = v.path("dtype").isTextual()
                ? DType.fromSafetensors(v.get("dtype").asText())
                : null;
        if (dtype == null) {
            throw new BadInputException(path, where + "unknown or missing 'dtype' " + v.get("dtype"));
        }
        boolean perRow = false;
        if (kind != Kind.PLAIN) {
            if (shape.length != 2 || shape[0] == 0 || shape[1] == 0) {
                // An empty quantized matrix never occurs; (2^31-1, 0) would cost seconds of empty loops.
                throw new BadInputException(
                        path, where + kind.id() + " tensors must be 2-D and non-empty, shape is " + sh);
            }
            String scale = v.path("scale").asText("");
            if (kind == Kind.INT4) {
                if (!scale.equals("per_block") || shape[1] % PackedModelFormat.INT4_BLOCK != 0) {
                    throw new BadInputException(
                            path,
                            where + "int4 tensors have 'scale' \"per_block\" and a multiple of "
                                    + PackedModelFormat.INT4_BLOCK + " columns, got " + v.get("scale") + ", " + sh);
                }
                return new Entry(name, kind, shape, dtype, false);
            }
            if (!scale.equals("per_row") && !scale.equals("per_tensor")) {
                throw new BadInputException(
                        path, where + "'scale' must be \"per_row\" or \"per_tensor\", got " + v.get("scale"));
            }
            perRow = scale.equals("per_row");
            if (kind == Kind.INT8 && !perRow) {
                throw new BadInputException(path, where + "int8 tensors have per_row scales");
            }
        }
        return new Entry(name, kind, shape, dtype, perRow);
    }

    private static void checkParts(Path path, SafetensorsFile f, Packing packing, Entry e, Set<String> used) {
        switch (e.kind()) {
            case TERNARY -> {
                long rows = e.shape()[0];
                long cols = e.shape()[1];
                part(
                        path,
                        f,
                        e,
                        PackedModelFormat.TERNARY_SUFFIX,
                        DType.U8,
                        rows,
                        packing.bytesPerRow((int) cols),
                        used);
                float[] s = part(path, f, e, PackedModelFormat.SCALE_SUFFIX, DType.F32, e.perRow() ? rows : 1, -1, used)
                        .toFloatArray();
                checkFinite(path, e, s);
                TensorData packed = f.get(e.name() + PackedModelFormat.TERNARY_SUFFIX);
                checkCodes(path, e, packing, packed.data());
            }
            case INT8 -> {
                part(path, f, e, PackedModelFormat.INT8_SUFFIX, DType.I8, e.shape()[0], e.shape()[1], used);
                float[] s = part(path, f, e, PackedModelFormat.INT8_SCALE_SUFFIX, DType.F32, e.shape()[0], -1, used)
                        .toFloatArray();
                checkFinite(path, e, s);
            }
            case INT4 -> {
                long rows = e.shape()[0], cols = e.shape()[1];
                part(path, f, e, PackedModelFormat.INT4_SUFFIX, DType.U8, rows, cols / 2, used);
                float[] s = part(
                                path,
                                f,
                                e,
                                PackedModelFormat.INT4_SCALE_SUFFIX,
                                DType.F16,
                                rows,
                                cols / PackedModelFormat.INT4_BLOCK,
                                used)
                        .toFloatArray();
                checkFinite(path, e, s);
            }
            case PLAIN -> {
                if (!f.has(e.name())) {
                    throw new BadInputException(path, "tensor '" + e.name() + "' is described but missing");
                }
                TensorData t = f.get(e.name());
                if (!Arrays.equals(t.shape(), e.shape())) {
                    throw new BadInputException(
                            path,
                            "tensor '" + e.name() + "' has shape " + Arrays.toString(t.shape()) + " but its entry says "
                                    + Arrays.toString(e.shape()));
                }
                used.add(e.name());
            }
        }
    }

    /** Checks part NAME+suffix exists with dtype and shape (d0) or (d0, d1) (d1 < 0: 1-D). */
    private static TensorData part(
            Path path, SafetensorsFile f, Entry e, String suffix, DType dtype, long d0, long d1, Set<String> used) {
        String n = e.name() + suffix;
        if (!f.has(n)) {
            throw new BadInputException(path, e.kind().id() + " tensor '" + e.name() + "' lacks its part '" + n + "'");
        }
        TensorData t = f.get(n);
        long[] want = d1 < 0 ? new long[] {d0} : new long[] {d0, d1};
        if (t.dtype() != dtype || !Arrays.equals(t.shape(), want)) {
            throw new BadInputException(
                    path,
                    "'" + n + "' is " + t.dtype().safetensorsName() + Arrays.toString(t.shape()) + ", expected "
                            + dtype.safetensorsName() + Arrays.toString(want) + " for shape "
                            + Arrays.toString(e.shape()));
        }
        used.add(n);
        return t;
    }

    private static void checkFinite(Path path, Entry e, float[] s) {
        for (int i = 0; i < s.length; i++) {
            if (!Float.isFinite(s[i])) {
                throw new BadInputException(path, "tensor '" + e.name() + "': scale " + i + " is " + s[i]);
            }
        }
    }

    /** Rejects codes that do not decode (2-bit code 3, base-3 byte > 242) so kernels need not check. */
    /** Refuses a 2-bit code 3 or a base-3 byte above 242, naming the first offset. */
    private static void checkCodes(Path path, Entry e, Packing packing, MemorySegment seg) {
        long i = packing.firstInvalid(seg);
        if (i >= 0) {
            throw new BadInputException(
                    path,
                    "tensor '" + e.name() + "': invalid " + packing.id() + " byte "
                            + (seg.get(ValueLayout.JAVA_BYTE, i) & 0xff) + " at offset " + i);
        }
    }

    private static String quote(String s) {
        return s == null ? "missing" : "\"" + s + "\"";
    }

    public Path path() {
        return path;
    }

    public Packing packing() {
        return packing;
    }

    /** Original tensor names in metadata order. */
    public List<String> names() {
        return List.copyOf(entries.keySet());
    }

    public Map<String, Entry> entries() {
        return entries;
    }

    /** Metadata entries the writer's caller added (format keys removed). */
    public Map<String, String> extraMetadata() {
        return extraMetadata;
    }

    public Entry entry(String name) {
        Entry e = entries.get(name);
        if (e == null) {
            throw new BadInputException(path, "no tensor named '" + name + "'");
        }
        return e;
    }

    public Ternary ternary(String name) {
        Entry e = want(name, Kind.TERNARY);
        return new Ternary(
                name,
                packing,
                e.rows(),
                e.cols(),
                file.get(name + PackedModelFormat.TERNARY_SUFFIX).data(),
                file.get(name + PackedModelFormat.SCALE_SUFFIX).toFloatArray(),
                e.perRow());
    }

    public Int8 int8(String name) {
        Entry e = want(name, Kind.INT8);
        return new Int8(
                name,
                e.rows(),
                e.cols(),
                file.get(name + PackedModelFormat.INT8_SUFFIX),
                file.get(name + PackedModelFormat.INT8_SCALE_SUFFIX).toFloatArray());
    }

    public Int4 int4(String name) {
        Entry e = want(name, Kind.INT4);
        TensorData s = file.get(name + PackedModelFormat.INT4_SCALE_SUFFIX);
        short[] scale16 = new short[Math.toIntExact(s.numel())];
        MemorySegment.copy(s.data(), LE_I16, 0, scale16, 0, scale16.length);
        return new Int4(
                name,
                e.rows(),
                e.cols(),
                file.get(name + PackedModelFormat.INT4_SUFFIX).data().toArray(ValueLayout.JAVA_BYTE),
                scale16);
    }

    private static final ValueLayout.OfShort LE_I16 =
            ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN);

    /** A plain tensor as stored (F16 for embeddings written that way; otherwise as given). */
    public TensorData plain(String name) {
        want(name, Kind.PLAIN);
        return file.get(name);
    }

    /** The ternary codes -1/0/+1 of a ternary tensor, unpacked to the heap (rows, cols). */
    public byte[] ternaryCodes(String name) {
        Ternary t = ternary(name);
        return TernaryPacking.unpack(packing, t.packed().toArray(ValueLayout.JAVA_BYTE), t.rows(), t.cols());
    }

    /** An FP32 heap copy of the tensor as the model would use it (scale * code for quantized kinds). */
    public TensorData dequantize(String name) {
        Entry e = entry(name);
        return switch (e.kind()) {
            case PLAIN -> TensorData.ofFloats(name, plain(name).toFloatArray(), e.shape());
            case TERNARY -> {
                Ternary t = ternary(name);
                byte[] q = ternaryCodes(name);
                float[] w = new float[q.length];
                for (int r = 0; r < t.rows(); r++) {
                    float s = t.scales()[t.perRow() ? r : 0];
                    for (int c = 0; c < t.cols(); c++) {
                        w[r * t.cols() + c] = s * q[r * t.cols() + c];
                    }
                }
                yield TensorData.ofFloats(name, w, e.shape());
            }
            case INT8 -> {
                Int8 t = int8(name);
                float[] w = new float[t.rows() * t.cols()];
                MemorySegment d = t.data().data();
                for (int r = 0; r < t.rows(); r++) {
                    for (int c = 0; c < t.cols(); c++) {
                        int i = r * t.cols() + c;
                        w[i] = t.scales()[r] * d.get(ValueLayout.JAVA_BYTE, i);
                    }
                }
                yield TensorData.ofFloats(name, w, e.shape());
            }
            case INT4 -> TensorData.ofFloats(name, int4(name).dequantize(), e.shape());
        };
    }

    private Entry want(String name, Kind kind) {
        Entry e = entry(name);
        if (e.kind() != kind) {
            throw new IllegalArgumentException(name + " is " + e.kind().id() + ", not " + kind.id());
        }
        return e;
    }
}
