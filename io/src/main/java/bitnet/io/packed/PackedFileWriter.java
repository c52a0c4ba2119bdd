package bitnet.io.packed;

import bitnet.io.DType;
import bitnet.io.Packing;
import bitnet.io.StreamingSafetensorsWriter;
import bitnet.io.StreamingSafetensorsWriter.Spec;
import bitnet.io.TernaryPacking;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The one writer of {@code bitnet_quantized_model.safetensors} (the schema is described in
 * {@link PackedModelFormat}): every tensor's storage is declared up front, so the header and the
 * metadata are written first and each tensor's bytes then go to their place one at a time. Memory
 * holds one tensor at a time whatever the model size; the in-memory compression path and the
 * streaming one both write through this class, so the same plan and the same values give the same
 * bytes (entries and safetensors keys are sorted by name, whatever the declaration order).
 *
 * <p>Not thread-safe: one thread writes. {@link #finish} renames the file into place; closing
 * without it deletes the temporary file.
 */
public final class PackedFileWriter implements AutoCloseable {
    private static final ValueLayout.OfShort LE_I16 =
            ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfFloat LE_F32 =
            ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** How one original tensor is stored in the packed file. */
    public enum Storage {
        /** 2-bit or base-3 codes plus F32 scales (per row or per tensor). */
        TERNARY,
        /** Per-row symmetric int8 plus F32 per-row scales (embeddings, lm_head). */
        INT8,
        /** Int4 codes in blocks of 32 plus F16 block scales (embeddings, lm_head with embedding_precision int4). */
        INT4,
        /** F16 under its own name (embeddings, lm_head with embedding_precision fp16). */
        F16,
        /** As the source stored it (F64 narrowed to F32). */
        AS_STORED
    }

    /**
     * One original tensor: its name, storage, shape, the dtype the source model stored (recorded in
     * the metadata), and for ternary tensors whether scales are per row.
     */
    public record Slot(String name, Storage storage, long[] shape, DType sourceDtype, boolean perRow) {
        /** The dtype of a plain tensor's bytes in the file. */
        public DType plainDtype() {
            return storage == Storage.F16 ? DType.F16 : sourceDtype == DType.F64 ? DType.F32 : sourceDtype;
        }

        int rows() {
            return Math.toIntExact(shape[0]);
        }

        int cols() {
            return Math.toIntExact(shape[1]);
        }
    }

    private final Packing packing;
    private final Map<String, Slot> slots = new LinkedHashMap<>();
    private final StreamingSafetensorsWriter out;

    private PackedFileWriter(Path file, Packing packing, List<Slot> declared, Map<String, String> extraMetadata)
            throws IOException {
        this.packing = packing;
        TreeMap<String, Slot> sorted = new TreeMap<>();
        for (Slot s : declared) {
            if (sorted.put(s.name(), s) != null) {
                throw new IllegalArgumentException("tensor " + s.name() + " declared twice");
            }
            if (s.storage() != Storage.AS_STORED && s.storage() != Storage.F16 && s.shape().length != 2) {
                throw new IllegalArgumentException(s.name() + ": " + s.storage() + " storage needs a 2-D tensor");
            }
        }
        slots.putAll(sorted);
        List<Spec> specs = new ArrayList<>();
        ObjectNode entries = PackedModelFormat.JSON.createObjectNode();
        for (Slot s : sorted.values()) {
            ObjectNode e = entries.putObject(s.name());
            PackedModelFormat.Kind kind = switch (s.storage()) {
                case TERNARY -> PackedModelFormat.Kind.TERNARY;
                case INT8 -> PackedModelFormat.Kind.INT8;
                case INT4 -> PackedModelFormat.Kind.INT4;
                default -> PackedModelFormat.Kind.PLAIN;
            };
            e.put("kind", kind.id());
            var sh = e.putArray("shape");
            for (long d : s.shape()) {
                sh.add(d);
            }
            e.put("dtype", s.sourceDtype().safetensorsName());
            switch (s.storage()) {
                case TERNARY -> {
                    e.put("scale", s.perRow() ? "per_row" : "per_tensor");
                    specs.add(new Spec(s.name() + PackedModelFormat.TERNARY_SUFFIX, DType.U8, new long[] {
                        s.rows(), packing.bytesPerRow(s.cols())
                    }));
                    specs.add(new Spec(
                            s.name() + PackedModelFormat.SCALE_SUFFIX, DType.F32, new long[] {s.perRow() ? s.rows() : 1
                            }));
                }
                case INT8 -> {
                    e.put("scale", "per_row");
                    specs.add(new Spec(s.name() + PackedModelFormat.INT8_SUFFIX, DType.I8, s.shape()));
                    specs.add(
                            new Spec(s.name() + PackedModelFormat.INT8_SCALE_SUFFIX, DType.F32, new long[] {s.rows()}));
                }
                case INT4 -> {
                    if (s.cols() % PackedModelFormat.INT4_BLOCK != 0) {
                        throw new IllegalArgumentException(
                                s.name() + ": int4 needs a multiple of " + PackedModelFormat.INT4_BLOCK + " columns");
                    }
                    e.put("scale", "per_block");
                    specs.add(new Spec(
                            s.name() + PackedModelFormat.INT4_SUFFIX, DType.U8, new long[] {s.rows(), s.cols() / 2}));
                    specs.add(new Spec(s.name() + PackedModelFormat.INT4_SCALE_SUFFIX, DType.F16, new long[] {
                        s.rows(), s.cols() / PackedModelFormat.INT4_BLOCK
                    }));
                }
                default -> specs.add(new Spec(s.name(), s.plainDtype(), s.shape()));
            }
        }
        Map<String, String> meta = new LinkedHashMap<>();
        if (extraMetadata != null) {
            meta.putAll(extraMetadata);
        }
        for (String k : new String[] {"format", "format_version", "packing", "tensors"}) {
            if (meta.containsKey(k)) {
                throw new IllegalArgumentException("metadata key '" + k + "' is reserved");
            }
        }
        meta.put("format", PackedModelFormat.FORMAT);
        meta.put("format_version", PackedModelFormat.FORMAT_VERSION);
        meta.put("packing", packing.id());
        meta.put("tensors", PackedModelFormat.JSON.writeValueAsString(entries));
        this.out = new StreamingSafetensorsWriter(file, specs, meta);
    }

    /**
     * Declares every tensor and writes the header to FILE.tmp. extraMetadata entries (e.g.
     * "quantizer") go beside the format's own keys, which they may not override.
     */
    public static PackedFileWriter open(Path file, Packing packing, List<Slot> slots, Map<String, String> extraMetadata)
            throws IOException {
        return new PackedFileWriter(file, packing, slots, extraMetadata);
    }

    private Slot slot(String name, Storage expected) {
        Slot s = slots.get(name);
        if (s == null || s.storage() != expected) {
            throw new IllegalArgumentException(
                    "tensor " + name + " was not declared as " + expected + (s == null ? "" : " but " + s.storage()));
        }
        return s;
    }

    /** A ternary tensor: q holds -1/0/+1 row-major (rows, cols); scale has rows entries (per row) or one. */
    public void ternary(String name, byte[] q, float[] scale) throws IOException {
        Slot s = slot(name, Storage.TERNARY);
        if (scale.length != (s.perRow() ? s.rows() : 1)) {
            throw new IllegalArgumentException(
                    name + ": " + scale.length + " scales for " + s.rows() + " rows, perRow=" + s.perRow());
        }
        out.write(name + PackedModelFormat.TERNARY_SUFFIX, TernaryPacking.pack(packing, q, s.rows(), s.cols()));
        out.write(name + PackedModelFormat.SCALE_SUFFIX, f32(scale));
    }

    /** An int8 tensor already quantized by {@link PackedModelFormat#quantizeInt8}: q (rows, cols), scale (rows). */
    public void int8(String name, byte[] q, float[] scale) throws IOException {
        slot(name, Storage.INT8);
        out.write(name + PackedModelFormat.INT8_SUFFIX, q);
        out.write(name + PackedModelFormat.INT8_SCALE_SUFFIX, f32(scale));
    }

    /** An int4 tensor quantized by {@link PackedModelFormat#quantizeInt4}: codes (rows, cols/2), F16 bits (rows, cols/32). */
    public void int4(String name, byte[] codes, short[] scale16) throws IOException {
        Slot s = slot(name, Storage.INT4);
        if (codes.length != (long) s.rows() * s.cols() / 2
                || scale16.length != (long) s.rows() * s.cols() / PackedModelFormat.INT4_BLOCK) {
            throw new IllegalArgumentException(name + ": int4 parts of the wrong size");
        }
        out.write(name + PackedModelFormat.INT4_SUFFIX, codes);
        byte[] b = new byte[scale16.length * 2];
        MemorySegment.copy(scale16, 0, MemorySegment.ofArray(b), LE_I16, 0, scale16.length);
        out.write(name + PackedModelFormat.INT4_SCALE_SUFFIX, b);
    }

    /** An F16 tensor from FP32 values (round to nearest even). */
    public void f16(String name, float[] w) throws IOException {
        slot(name, Storage.F16);
        out.write(name, f16(w));
    }

    /** A tensor kept as stored: its bytes in {@link Slot#plainDtype}, little-endian. */
    public void plain(String name, byte[] bytes) throws IOException {
        slot(name, Storage.AS_STORED);
        out.write(name, bytes);
    }

    /** The dtype a plain tensor's bytes must have ({@link Slot#plainDtype}). */
    public DType slotDtype(String name) {
        return slot(name, Storage.AS_STORED).plainDtype();
    }

    /** Bytes of the finished file. */
    public long fileSize() {
        return out.fileSize();
    }

    /** Checks every declared tensor was written, forces it to disk and renames it into place. */
    public void finish() throws IOException {
        out.finish();
    }

    @Override
    public void close() throws IOException {
        out.close();
    }

    /** FP32 values as little-endian F16 bytes. */
    public static byte[] f16(float[] w) {
        byte[] b = new byte[2 * w.length];
        MemorySegment s = MemorySegment.ofArray(b);
        for (int i = 0; i < w.length; i++) {
            s.set(LE_I16, 2L * i, Float.floatToFloat16(w[i]));
        }
        return b;
    }

    /** FP32 values as little-endian bytes. */
    public static byte[] f32(float[] w) {
        byte[] b = new byte[4 * w.length];
        MemorySegment.copy(w, 0, MemorySegment.ofArray(b), LE_F32, 0, w.length);
        return b;
    }
}
