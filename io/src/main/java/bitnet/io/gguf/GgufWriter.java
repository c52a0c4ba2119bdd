package bitnet.io.gguf;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * Writes a GGUF v3 file (the format llama.cpp reads): header, typed metadata, tensor infos, then
 * the tensor data, each tensor at an offset aligned to {@link #ALIGNMENT} (32). Tensor bytes are
 * produced lazily, one tensor at a time, so a large model is never held whole in memory. The file
 * is written under a temporary name beside the target and renamed at the end: a failed or killed
 * write leaves no target.
 *
 * <p>Dimensions are given in ggml order: ne[0] is the innermost (contiguous) one, i.e. the columns
 * of a row-major (rows, cols) matrix come first. Choosing types and names is the caller's job.
 */
public final class GgufWriter {
    public static final int VERSION = 3;
    public static final int ALIGNMENT = 32;
    static final int MAGIC = 0x46554747; // "GGUF" little-endian

    /** GGUF metadata value types. */
    public enum ValueType {
        UINT8(0),
        INT8(1),
        UINT16(2),
        INT16(3),
        UINT32(4),
        INT32(5),
        FLOAT32(6),
        BOOL(7),
        STRING(8),
        ARRAY(9),
        UINT64(10),
        INT64(11),
        FLOAT64(12);

        final int id;

        ValueType(int id) {
            this.id = id;
        }

        static ValueType ofId(long id) {
            for (ValueType v : values()) {
                if (v.id == id) {
                    return v;
                }
            }
            return null;
        }
    }

    /** A metadata value: a scalar, or for ARRAY a List of elements of elemType. */
    public record Value(ValueType type, ValueType elemType, Object value) {}

    /** A tensor to write: ggml dims (ne[0] first), type, exact byte size and its bytes on demand. */
    private record Pending(String name, GgmlType type, long[] ne, long bytes, Supplier<byte[]> data) {}

    private final Map<String, Value> meta = new LinkedHashMap<>();
    private final List<Pending> tensors = new ArrayList<>();

    public GgufWriter putString(String key, String v) {
        return put(key, new Value(ValueType.STRING, null, v));
    }

    public GgufWriter putU32(String key, long v) {
        if (v < 0 || v > 0xffffffffL) {
            throw new IllegalArgumentException(key + ": " + v + " does not fit uint32");
        }
        return put(key, new Value(ValueType.UINT32, null, v));
    }

    public GgufWriter putI32(String key, int v) {
        return put(key, new Value(ValueType.INT32, null, (long) v));
    }

    public GgufWriter putF32(String key, float v) {
        return put(key, new Value(ValueType.FLOAT32, null, v));
    }

    public GgufWriter putBool(String key, boolean v) {
        return put(key, new Value(ValueType.BOOL, null, v));
    }

    public GgufWriter putArray(String key, ValueType elemType, List<?> values) {
        if (elemType == ValueType.ARRAY) {
            throw new IllegalArgumentException(key + ": nested arrays are not written");
        }
        return put(key, new Value(ValueType.ARRAY, elemType, List.copyOf(values)));
    }

    public GgufWriter put(String key, Value v) {
        if (meta.containsKey(key)) {
            throw new IllegalArgumentException("metadata key '" + key + "' set twice");
        }
        meta.put(key, v);
        return this;
    }

    public boolean has(String key) {
        return meta.containsKey(key);
    }

    /**
     * Adds a tensor. ne is in ggml order (ne[0] = columns); data must return exactly the bytes
     * type and ne imply. It is called once, while the file is written.
     */
    public GgufWriter addTensor(String name, GgmlType type, long[] ne, Supplier<byte[]> data) {
        if (ne.length < 1 || ne.length > 4) {
            throw new IllegalArgumentException(name + ": " + ne.length + " dimensions (1..4)");
        }
        long rows = 1;
        for (int i = 1; i < ne.length; i++) {
            rows = Math.multiplyExact(rows, ne[i]);
        }
        long bytes = Math.multiplyExact(type.rowBytes(ne[0]), rows);
        for (Pending p : tensors) {
            if (p.name.equals(name)) {
                throw new IllegalArgumentException("tensor '" + name + "' added twice");
            }
        }
        tensors.add(new Pending(name, type, ne.clone(), bytes, data));
        return this;
    }

    /** Tensors added so far per type (for reports). */
    public Map<GgmlType, Integer> typeCounts() {
        Map<GgmlType, Integer> m = new LinkedHashMap<>();
        for (Pending p : tensors) {
            m.merge(p.type, 1, Integer::sum);
        }
        return m;
    }

    /** Writes the file: to a temporary sibling first, renamed onto out when complete. Returns its size. */
    public long write(Path out) throws IOException {
        Path abs = out.toAbsolutePath();
        Path tmp = abs.resolveSibling(abs.getFileName() + ".partial");
        Map<String, Value> all = new LinkedHashMap<>(meta);
        all.putIfAbsent("general.alignment", new Value(ValueType.UINT32, null, (long) ALIGNMENT));
        try {
            long size;
            try (CountingOut o = new CountingOut(new BufferedOutputStream(Files.newOutputStream(tmp), 1 << 20))) {
                o.u32(MAGIC);
                o.u32(VERSION);
                o.u64(tensors.size());
                o.u64(all.size());
                for (Map.Entry<String, Value> e : all.entrySet()) {
                    o.str(e.getKey());
                    o.u32(e.getValue().type().id);
                    writeValue(
                            o,
                            e.getValue().type(),
                            e.getValue().elemType(),
                            e.getValue().value());
                }
                long offset = 0;
                for (Pending p : tensors) {
                    o.str(p.name);
                    o.u32(p.ne.length);
                    for (long d : p.ne) {
                        o.u64(d);
                    }
                    o.u32(p.type.id());
                    o.u64(offset);
                    offset = align(offset + p.bytes);
                }
                o.pad();
                long dataStart = o.count;
                for (Pending p : tensors) {
                    byte[] b = p.data.get();
                    if (b.length != p.bytes) {
                        throw new IllegalStateException(p.name + ": " + b.length + " bytes, expected " + p.bytes);
                    }
                    o.write(b);
                    o.pad();
                }
                size = o.count;
                if (size - dataStart != offset) {
                    throw new IllegalStateException(
                            "data area is " + (size - dataStart) + " bytes, expected " + offset);
                }
            }
            Files.move(tmp, abs, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            return size;
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    static long align(long x) {
        return (x + ALIGNMENT - 1) / ALIGNMENT * ALIGNMENT;
    }

    private static void writeValue(CountingOut o, ValueType t, ValueType elem, Object v) throws IOException {
        switch (t) {
            case UINT8, INT8 -> o.write(new byte[] {(byte) ((Number) v).longValue()});
            case UINT16, INT16 -> o.u16((int) ((Number) v).longValue());
            case UINT32, INT32 -> o.u32((int) ((Number) v).longValue());
            case UINT64, INT64 -> o.u64(((Number) v).longValue());
            case FLOAT32 -> o.u32(Float.floatToRawIntBits(((Number) v).floatValue()));
            case FLOAT64 -> o.u64(Double.doubleToRawLongBits(((Number) v).doubleValue()));
            case BOOL -> o.write(new byte[] {(byte) ((Boolean) v ? 1 : 0)});
            case STRING -> o.str((String) v);
            case ARRAY -> {
                List<?> list = (List<?>) v;
                o.u32(elem.id);
                o.u64(list.size());
                for (Object x : list) {
                    writeValue(o, elem, null, x);
                }
            }
        }
    }

    /** Little-endian primitive output that counts bytes (for alignment). */
    private static final class CountingOut implements AutoCloseable {
        private final OutputStream out;
        private final byte[] buf = new byte[8];
        long count;

        CountingOut(OutputStream out) {
            this.out = out;
        }

        void write(byte[] b) throws IOException {
            out.write(b);
            count += b.length;
        }

        void le(long v, int n) throws IOException {
            for (int i = 0; i < n; i++) {
                buf[i] = (byte) (v >>> (8 * i));
            }
            out.write(buf, 0, n);
            count += n;
        }

        void u16(int v) throws IOException {
            le(v, 2);
        }

        void u32(int v) throws IOException {
            le(v, 4);
        }

        void u64(long v) throws IOException {
            le(v, 8);
        }

        void str(String s) throws IOException {
            byte[] b = s.getBytes(StandardCharsets.UTF_8);
            u64(b.length);
            write(b);
        }

        void pad() throws IOException {
            long p = align(count) - count;
            if (p > 0) {
                write(new byte[(int) p]);
            }
        }

        @Override
        public void close() throws IOException {
            out.close();
        }
    }
}
