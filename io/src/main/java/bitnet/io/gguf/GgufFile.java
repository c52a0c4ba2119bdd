package bitnet.io.gguf;

import bitnet.io.BadInputException;
import bitnet.io.MappedFiles;
import bitnet.io.gguf.GgufWriter.Value;
import bitnet.io.gguf.GgufWriter.ValueType;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A GGUF file (v2 or v3) opened for reading: metadata and tensor infos parsed and validated,
 * tensor data as slices of the mapping (nothing copied). Validation before use: magic, version,
 * counts and string/array lengths bounded by the bytes left, UTF-8 strings, no duplicate keys or
 * tensor names, known value and tensor types, 1..4 dimensions whose product does not overflow,
 * rows a multiple of the type's block, power-of-two alignment, every tensor aligned, inside the
 * data area and not overlapping another. Anything else is a {@link BadInputException} naming the
 * file. It reads only the types of {@link GgmlType}; it does not run models.
 */
public final class GgufFile {
    /** One tensor: ggml dims (ne[0] innermost), type, offset in the data area, its bytes. */
    public record TensorInfo(String name, GgmlType type, long[] ne, long offset, MemorySegment data) {
        public TensorInfo {
            ne = ne.clone();
        }

        @Override
        public long[] ne() {
            return ne.clone();
        }

        public long numel() {
            long n = 1;
            for (long d : ne) {
                n *= d;
            }
            return n;
        }

        /** The weights decoded to FP32 (heap copy; for tests and small tensors). */
        public float[] toFloats() {
            return GgufBlocks.decode(type, data.toArray(ValueLayout.JAVA_BYTE), Math.toIntExact(numel()));
        }
    }

    private static final int MAX_DEPTH = 2;

    private final Path path;
    private final int version;
    private final Map<String, Value> metadata;
    private final Map<String, TensorInfo> tensors;

    private GgufFile(Path path, int version, Map<String, Value> metadata, Map<String, TensorInfo> tensors) {
        this.path = path;
        this.version = version;
        this.metadata = metadata;
        this.tensors = tensors;
    }

    public static GgufFile open(Path path, Arena arena) {
        return parse(path, MappedFiles.map(path, arena));
    }

    /** Parses an in-memory GGUF image (tests and fuzzing); path only names it in messages. */
    public static GgufFile parse(Path path, MemorySegment all) {
        Cursor c = new Cursor(path, all);
        if (all.byteSize() < 24) {
            throw new BadInputException(
                    path, "not a GGUF file: " + all.byteSize() + " bytes, shorter than its 24-byte header");
        }
        if (c.u32() != GgufWriter.MAGIC) {
            throw new BadInputException(path, "not a GGUF file (magic is not \"GGUF\")");
        }
        int version = (int) c.u32();
        if (version != 2 && version != 3) {
            throw new BadInputException(
                    path,
                    "unsupported GGUF version " + Integer.toUnsignedString(version) + " (this reader knows 2 and 3)");
        }
        long nTensors = c.count("tensor count", 32);
        long nKv = c.count("metadata count", 13);
        Map<String, Value> meta = new LinkedHashMap<>();
        for (long i = 0; i < nKv; i++) {
            String key = c.str("metadata key");
            long t = c.u32();
            ValueType vt = ValueType.ofId(t);
            if (vt == null) {
                throw new BadInputException(path, "metadata '" + key + "' has unknown value type " + t);
            }
            Value v = c.value(key, vt, 0);
            if (meta.put(key, v) != null) {
                throw new BadInputException(path, "metadata key '" + key + "' appears twice");
            }
        }
        long alignment = GgufWriter.ALIGNMENT;
        Value a = meta.get("general.alignment");
        if (a != null) {
            if (a.type() != ValueType.UINT32 || (long) a.value() == 0 || Long.bitCount((long) a.value()) != 1) {
                throw new BadInputException(path, "general.alignment must be a uint32 power of two, got " + a.value());
            }
            alignment = (long) a.value();
        }
        record Raw(String name, GgmlType type, long[] ne, long offset, long bytes) {}
        List<Raw> raws = new ArrayList<>();
        Map<String, Boolean> names = new LinkedHashMap<>();
        for (long i = 0; i < nTensors; i++) {
            String name = c.str("tensor name");
            if (names.put(name, Boolean.TRUE) != null) {
                throw new BadInputException(path, "tensor '" + name + "' appears twice");
            }
            long nd = c.u32();
            if (nd < 1 || nd > 4) {
                throw new BadInputException(path, "tensor '" + name + "' has " + nd + " dimensions (1..4)");
            }
            long[] ne = new long[(int) nd];
            long numel = 1;
            for (int d = 0; d < nd; d++) {
                ne[d] = c.u64();
                if (ne[d] < 0) {
                    throw new BadInputException(path, "tensor '" + name + "' dimension " + d + " is out of range");
                }
                try {
                    numel = Math.multiplyExact(numel, ne[d]);
                } catch (ArithmeticException e) {
                    throw new BadInputException(path, "tensor '" + name + "' has too many elements");
                }
            }
            long tid = c.u32();
            GgmlType type = GgmlType.ofId(tid);
            if (type == null) {
                throw new BadInputException(
                        path, "tensor '" + name + "' has ggml type " + tid + ", which this reader does not know");
            }
            if (ne[0] % type.blockSize() != 0) {
                throw new BadInputException(
                        path,
                        "tensor '" + name + "': ne[0] = " + ne[0] + " is not a multiple of the " + type.ggmlName()
                                + " block (" + type.blockSize() + ")");
            }
            long offset = c.u64();
            if (offset < 0 || offset % alignment != 0) {
                throw new BadInputException(
                        path,
                        "tensor '" + name + "' offset " + Long.toUnsignedString(offset)
                                + " is not a multiple of the alignment " + alignment);
            }
            long bytes;
            try {
                bytes = Math.multiplyExact(numel / type.blockSize(), (long) type.blockBytes());
            } catch (ArithmeticException e) {
                throw new BadInputException(path, "tensor '" + name + "' is too large");
            }
            raws.add(new Raw(name, type, ne, offset, bytes));
        }
        long dataStart = (c.pos + alignment - 1) / alignment * alignment;
        if (dataStart > all.byteSize() && !raws.isEmpty()) {
            throw new BadInputException(
                    path,
                    "truncated: the data area starts at " + dataStart + ", past the end of the file (" + all.byteSize()
                            + " bytes)");
        }
        long dataSize = Math.max(0, all.byteSize() - dataStart);
        List<Raw> byOffset = new ArrayList<>(raws);
        byOffset.sort(Comparator.comparingLong(Raw::offset));
        long end = 0;
        for (Raw r : byOffset) {
            if (r.offset > dataSize || r.bytes > dataSize - r.offset) {
                throw new BadInputException(
                        path,
                        "tensor '" + r.name + "' (" + r.bytes + " bytes at " + r.offset
                                + ") lies outside the data area (" + dataSize + " bytes): truncated file?");
            }
            if (r.offset < end) {
                throw new BadInputException(path, "tensor '" + r.name + "' overlaps another tensor");
            }
            end = r.offset + r.bytes;
        }
        Map<String, TensorInfo> tensors = new LinkedHashMap<>();
        for (Raw r : raws) {
            tensors.put(
                    r.name, new TensorInfo(r.name, r.type, r.ne, r.offset, all.asSlice(dataStart + r.offset, r.bytes)));
        }
        return new GgufFile(path, version, Collections.unmodifiableMap(meta), Collections.unmodifiableMap(tensors));
    }

    public Path path() {
        return path;
    }

    public int version() {
        return version;
    }

    public Map<String, Value> metadata() {
        return metadata;
    }

    public Map<String, TensorInfo> tensors() {
        return tensors;
    }

    public TensorInfo tensor(String name) {
        TensorInfo t = tensors.get(name);
        if (t == null) {
            throw new BadInputException(path, "no tensor named '" + name + "'");
        }
        return t;
    }

    /** The metadata value of key (a String, Long, Float, Double, Boolean or List), or null. */
    public Object get(String key) {
        Value v = metadata.get(key);
        return v == null ? null : v.value();
    }

    /** Reads little-endian values with bounds checks that name the file. */
    private static final class Cursor {
        private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
        private static final ValueLayout.OfLong I64 =
                ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
        final Path path;
        final MemorySegment seg;
        long pos;

        Cursor(Path path, MemorySegment seg) {
            this.path = path;
            this.seg = seg;
        }

        long left() {
            return seg.byteSize() - pos;
        }

        void need(long n, String what) {
            if (n < 0 || n > left()) {
                throw new BadInputException(
                        path,
                        "truncated header: " + what + " needs " + (n < 0 ? Long.toUnsignedString(n) : n)
                                + " bytes at offset " + pos + ", " + left() + " left");
            }
        }

        long u8() {
            need(1, "a byte");
            return seg.get(ValueLayout.JAVA_BYTE, pos++) & 0xff;
        }

        long u16() {
            need(2, "a 16-bit value");
            long v = (seg.get(ValueLayout.JAVA_BYTE, pos) & 0xff)
                    | (seg.get(ValueLayout.JAVA_BYTE, pos + 1) & 0xff) << 8;
            pos += 2;
            return v;
        }

        long u32() {
            need(4, "a 32-bit value");
            long v = seg.get(I32, pos) & 0xffffffffL;
            pos += 4;
            return v;
        }

        long u64() {
            need(8, "a 64-bit value");
            long v = seg.get(I64, pos);
            pos += 8;
            return v;
        }

        /** A count of items each taking at least minBytes: bounded by what is left. */
        long count(String what, long minBytes) {
            long n = u64();
            if (n < 0 || n > left() / minBytes) {
                throw new BadInputException(
                        path,
                        what + " " + Long.toUnsignedString(n) + " is impossible for a file of " + seg.byteSize()
                                + " bytes");
            }
            return n;
        }

        String str(String what) {
            long n = u64();
            need(n, what);
            byte[] b = seg.asSlice(pos, n).toArray(ValueLayout.JAVA_BYTE);
            pos += n;
            try {
                return StandardCharsets.UTF_8
                        .newDecoder()
                        .onMalformedInput(CodingErrorAction.REPORT)
                        .onUnmappableCharacter(CodingErrorAction.REPORT)
                        .decode(ByteBuffer.wrap(b))
                        .toString();
            } catch (CharacterCodingException e) {
                throw new BadInputException(path, what + " at offset " + (pos - n) + " is not valid UTF-8");
            }
        }

        Value value(String key, ValueType t, int depth) {
            return switch (t) {
                case UINT8 -> new Value(t, null, u8());
                case INT8 -> new Value(t, null, (long) (byte) u8());
                case UINT16 -> new Value(t, null, u16());
                case INT16 -> new Value(t, null, (long) (short) u16());
                case UINT32 -> new Value(t, null, u32());
                case INT32 -> new Value(t, null, (long) (int) u32());
                case UINT64, INT64 -> new Value(t, null, u64());
                case FLOAT32 -> new Value(t, null, Float.intBitsToFloat((int) u32()));
                case FLOAT64 -> new Value(t, null, Double.longBitsToDouble(u64()));
                case BOOL -> {
                    long b = u8();
                    if (b > 1) {
                        throw new BadInputException(path, "metadata '" + key + "': bool byte " + b);
                    }
                    yield new Value(t, null, b == 1);
                }
                case STRING -> new Value(t, null, str("metadata '" + key + "' string"));
                case ARRAY -> {
                    if (depth >= MAX_DEPTH) {
                        throw new BadInputException(
                                path, "metadata '" + key + "': arrays nested deeper than " + MAX_DEPTH);
                    }
                    long et = u32();
                    ValueType e = ValueType.ofId(et);
                    if (e == null) {
                        throw new BadInputException(path, "metadata '" + key + "': unknown array element type " + et);
                    }
                    long n = count("metadata '" + key + "' array length", minBytes(e));
                    List<Object> list = new ArrayList<>((int) Math.min(n, 1 << 16));
                    for (long i = 0; i < n; i++) {
                        list.add(value(key, e, depth + 1).value());
                    }
                    yield new Value(t, e, Collections.unmodifiableList(list));
                }
            };
        }

        private static long minBytes(ValueType e) {
            return switch (e) {
                case UINT8, INT8, BOOL -> 1;
                case UINT16, INT16 -> 2;
                case UINT32, INT32, FLOAT32 -> 4;
                case UINT64, INT64, FLOAT64, STRING -> 8;
                case ARRAY -> 12;
            };
        }
    }
}
