package bitnet.io.packed;

import bitnet.io.DType;
import bitnet.io.Packing;
import bitnet.io.TensorData;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The packed ternary model file, {@code bitnet_quantized_model.safetensors}: an ordinary
 * safetensors file whose {@code __metadata__} says how to read each original tensor back.
 *
 * <p>For a ternary tensor NAME (rows, cols): {@code NAME.ternary} U8 (rows, bytesPerRow) and
 * {@code NAME.scale} F32 (rows) per row or (1) per tensor. Embeddings / lm_head are either F16 under
 * their own name, per-row symmetric int8: {@code NAME.int8} I8 (rows, cols) plus
 * {@code NAME.int8_scale} F32 (rows), scale = absmax/127, or int4 in blocks of 32 along a row by
 * llama.cpp's Q4_0 rule ({@link #quantizeInt4}): {@code NAME.int4} U8 (rows, cols/2), element 2i in
 * the low nibble of byte i and 2i+1 in the high one, code q in 0..15 standing for (q - 8) * d, and
 * {@code NAME.int4_scale} F16 (rows, cols/32), the d of each block. Everything else is kept as given.
 * Metadata: "format" = "bitnet-ternary", "format_version" = "1", "packing" = "2bit" | "base3",
 * "tensors" = JSON {name: {kind, shape, dtype, scale?}} and any caller entries.
 *
 * <p>This class writes the file and opens it ({@link PackedModel} reads and validates); it does not
 * choose what to quantize nor quantize to ternary (that is the engine's quantizers).
 */
public final class PackedModelFormat {
    public static final String FILE_NAME = "bitnet_quantized_model.safetensors";
    public static final String FORMAT = "bitnet-ternary";
    public static final String FORMAT_VERSION = "1";
    public static final String TERNARY_SUFFIX = ".ternary";
    public static final String SCALE_SUFFIX = ".scale";
    public static final String INT8_SUFFIX = ".int8";
    public static final String INT8_SCALE_SUFFIX = ".int8_scale";
    public static final String INT4_SUFFIX = ".int4";
    public static final String INT4_SCALE_SUFFIX = ".int4_scale";
    /** Elements per int4 block (one F16 scale each), as in llama.cpp's Q4_0. */
    public static final int INT4_BLOCK = 32;

    static final ObjectMapper JSON = new ObjectMapper();

    private PackedModelFormat() {}

    /** How an original tensor is stored; {@link #id} is its metadata name. */
    public enum Kind {
        TERNARY("ternary"),
        INT8("int8"),
        INT4("int4"),
        PLAIN("plain");

        private final String id;

        Kind(String id) {
            this.id = id;
        }

        public String id() {
            return id;
        }

        static Kind parse(String s) {
            for (Kind k : values()) {
                if (k.id.equals(s)) {
                    return k;
                }
            }
            return null;
        }
    }

    /** Opens and validates a packed model file (mapped into arena, no weight bytes copied). */
    public static PackedModel open(Path file, Arena arena) {
        return PackedModel.open(file, arena);
    }

    public static Writer writer(Packing packing) {
        return new Writer(packing);
    }

    /**
     * Collects tensors, then writes the file in one go through {@link PackedFileWriter} (the one
     * place that knows the schema). Convenient for small files and tests. Not thread-safe.
     */
    public static final class Writer {
        private interface Payload {
            void write(PackedFileWriter w) throws IOException;
        }

        private final Packing packing;
        private final List<PackedFileWriter.Slot> slots = new ArrayList<>();
        private final List<Payload> payloads = new ArrayList<>();
        private final Set<String> names = new HashSet<>();

        private Writer(Packing packing) {
            this.packing = packing;
        }

        public Packing packing() {
            return packing;
        }

        private void add(PackedFileWriter.Slot s, Payload p) {
            if (!names.add(s.name())) {
                throw new IllegalArgumentException("tensor " + s.name() + " added twice");
            }
            slots.add(s);
            payloads.add(p);
        }

        /**
         * A ternary tensor (rows, cols): q holds -1/0/+1 row-major; scale has rows entries (perRow)
         * or one. originalDtype is the dtype the source model stored (recorded for the reader).
         */
        public Writer addTernary(
                String name, int rows, int cols, DType originalDtype, byte[] q, float[] scale, boolean perRow) {
            if (scale.length != (perRow ? rows : 1)) {
                throw new IllegalArgumentException(
                        name + ": " + scale.length + " scales for " + rows + " rows, perRow=" + perRow);
            }
            byte[] qc = q.clone();
            float[] sc = scale.clone();
            add(
                    new PackedFileWriter.Slot(
                            name, PackedFileWriter.Storage.TERNARY, new long[] {rows, cols}, originalDtype, perRow),
                    w -> w.ternary(name, qc, sc));
            return this;
        }

        /** A 2-D float tensor stored as per-row symmetric int8 (scale = absmax/127, round half to even). */
        public Writer addInt8(TensorData t) {
            if (t.rank() != 2 || !t.dtype().isFloat()) {
                throw new IllegalArgumentException(t.name() + ": int8 storage needs a 2-D float tensor");
            }
            int rows = t.dim(0), cols = t.dim(1);
            float[] w = t.toFloatArray();
            byte[] q = new byte[w.length];
            float[] scale = new float[rows];
            quantizeInt8(w, rows, cols, q, scale);
            add(
                    new PackedFileWriter.Slot(t.name(), PackedFileWriter.Storage.INT8, t.shape(), t.dtype(), true),
                    pw -> pw.int8(t.name(), q, scale));
            return this;
        }

        /** A 2-D float tensor stored as int4 in blocks of 32 ({@link #quantizeInt4}). */
        public Writer addInt4(TensorData t) {
            if (t.rank() != 2 || !t.dtype().isFloat()) {
                throw new IllegalArgumentException(t.name() + ": int4 storage needs a 2-D float tensor");
            }
            int rows = t.dim(0), cols = t.dim(1);
            byte[] codes = new byte[rows * cols / 2];
            short[] scale16 = new short[rows * cols / INT4_BLOCK];
            quantizeInt4(t.toFloatArray(), rows, cols, codes, scale16);
            add(
                    new PackedFileWriter.Slot(t.name(), PackedFileWriter.Storage.INT4, t.shape(), t.dtype(), false),
                    pw -> pw.int4(t.name(), codes, scale16));
            return this;
        }

        /** A float tensor stored as F16 under its own name (embeddings, lm_head). */
        public Writer addF16(TensorData t) {
            if (!t.dtype().isFloat()) {
                throw new IllegalArgumentException(t.name() + ": F16 storage needs a float tensor");
            }
            add(
                    new PackedFileWriter.Slot(t.name(), PackedFileWriter.Storage.F16, t.shape(), t.dtype(), false),
                    pw -> pw.f16(t.name(), t.toFloatArray()));
            return this;
        }

        /** A tensor kept exactly as given (norms, biases, anything not quantized). */
        public Writer addPlain(TensorData t) {
            TensorData v = t.dtype() == DType.F64 ? t.convert(DType.F32, null) : t;
            add(
                    new PackedFileWriter.Slot(
                            t.name(), PackedFileWriter.Storage.AS_STORED, t.shape(), t.dtype(), false),
                    pw -> pw.plain(t.name(), v.data().toArray(java.lang.foreign.ValueLayout.JAVA_BYTE)));
            return this;
        }

        /** Writes the file; extra metadata entries may not override the format's own keys. */
        public void write(Path file, Map<String, String> extraMetadata) throws IOException {
            try (PackedFileWriter w = PackedFileWriter.open(file, packing, slots, extraMetadata)) {
                for (Payload p : payloads) {
                    p.write(w);
                }
                w.finish();
            }
        }
    }

    /**
     * Int4 in blocks of {@link #INT4_BLOCK} along each row, llama.cpp's Q4_0 rule: the block's
     * element of largest magnitude m (the first of equals) gives d = m / -8, stored as F16 (d16,
     * the raw F16 bits into scale16); each code is q = min(15, (int) (x / d + 8.5)) with the
     * unrounded d, standing for (q - 8) * d16. cols must be a multiple of the block. codes holds
     * cols/2 bytes a row, element 2i in the low nibble. The codes and d16 are exactly what a GGUF
     * Q4_0 tensor of the dequantized values holds (re-quantizing them gives them back).
     */
    public static void quantizeInt4(float[] w, int rows, int cols, byte[] codes, short[] scale16) {
        if (cols % INT4_BLOCK != 0) {
            throw new IllegalArgumentException("int4 needs a multiple of " + INT4_BLOCK + " columns, not " + cols);
        }
        int nb = cols / INT4_BLOCK;
        for (int r = 0; r < rows; r++) {
            for (int b = 0; b < nb; b++) {
                int o = r * cols + b * INT4_BLOCK;
                float amax = 0f, max = 0f;
                for (int i = 0; i < INT4_BLOCK; i++) {
                    float v = w[o + i];
                    if (Math.abs(v) > amax) {
                        amax = Math.abs(v);
                        max = v;
                    }
                }
                float d = max / -8f, id = d != 0f ? 1f / d : 0f;
                scale16[r * nb + b] = Float.floatToFloat16(d);
                for (int i = 0; i < INT4_BLOCK; i += 2) {
                    int q0 = Math.min(15, (int) (w[o + i] * id + 8.5f));
                    int q1 = Math.min(15, (int) (w[o + i + 1] * id + 8.5f));
                    codes[(o + i) / 2] = (byte) (q0 | q1 << 4);
                }
            }
        }
    }

    /** The values int4 codes stand for: (q - 8) * d16 ({@link #quantizeInt4}), rows x cols. */
    public static float[] dequantizeInt4(byte[] codes, short[] scale16, int rows, int cols) {
        float[] w = new float[rows * cols];
        int nb = cols / INT4_BLOCK;
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                int i = r * cols + c;
                int q = (codes[i / 2] >> ((i & 1) * 4)) & 15;
                w[i] = (q - 8) * Float.float16ToFloat(scale16[r * nb + c / INT4_BLOCK]);
            }
        }
        return w;
    }

    /** Per-row symmetric int8: scale[r] = absmax/127, q = rint(w/scale) clamped to ±127 (0 for an all-zero row). */
    public static void quantizeInt8(float[] w, int rows, int cols, byte[] q, float[] scale) {
        for (int r = 0; r < rows; r++) {
            float amax = 0f;
            for (int c = 0; c < cols; c++) {
                amax = Math.max(amax, Math.abs(w[r * cols + c]));
            }
            float s = amax / 127f;
            scale[r] = s;
            for (int c = 0; c < cols; c++) {
                float v = s == 0f ? 0f : (float) Math.rint(w[r * cols + c] / s);
                q[r * cols + c] = (byte) Math.max(-127, Math.min(127, v));
            }
        }
    }
}
