package bitnet.engine.compress;

import bitnet.engine.model.HfTensor;
import bitnet.engine.model.Param;
import bitnet.engine.quant.Quantizer;
import bitnet.engine.train.Qat;
import bitnet.io.DType;
import bitnet.io.packed.PackedFileWriter;
import bitnet.io.packed.PackedFileWriter.Slot;
import bitnet.io.packed.PackedFileWriter.Storage;
import bitnet.io.packed.PackedModelFormat;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * Decides, once, what compression does with each tensor of a model: quantize it to ternary, store
 * it as per-row int8 (embeddings, lm_head with embedding_precision int8; linear layers named by
 * int8_patterns), as int4 in blocks of 32 (embeddings, lm_head with embedding_precision int4 whose
 * rows are a multiple of 32 long; else int8), or keep it (F16 for
 * embeddings with fp16, else as stored). {@link Pipeline} and {@link StreamingCompressor} both take
 * their roles and the packed file's declaration ({@link #slots}, {@link #metadata}) from here, so
 * the two paths cannot disagree about a tensor.
 *
 * <p>Immutable once built; safe to share between threads.
 */
public final class RolePlan {
    /** What compression does with one tensor. */
    public enum Role {
        /** Ternary codes plus scales. */
        QUANTIZE,
        /** Per-row symmetric int8 plus per-row scales. */
        INT8,
        /** Int4 in blocks of 32 along a row with F16 block scales (llama.cpp's Q4_0). */
        INT4,
        /** Kept: F16 for embeddings with embedding_precision fp16, else as the source stored it. */
        KEEP
    }

    /** One tensor's decision. */
    public record Entry(HfTensor tensor, Role role, Storage storage, DType sourceDtype) {
        public String name() {
            return tensor.name();
        }
    }

    private final Map<String, Entry> entries;
    private final List<HfTensor> targets;
    private final boolean perRow;
    private final String quantizerSpec;

    private RolePlan(Map<String, Entry> entries, List<HfTensor> targets, boolean perRow, String quantizerSpec) {
        this.entries = Collections.unmodifiableMap(entries);
        this.targets = List.copyOf(targets);
        this.perRow = perRow;
        this.quantizerSpec = quantizerSpec;
    }

    /**
     * The plan for a model's tensors (in the model's order) under config c; sourceDtype gives the
     * dtype the checkpoint stores each tensor in (F32 for one it lacks).
     */
    public static RolePlan of(
            CompressConfig c, Collection<HfTensor> tensors, Function<String, DType> sourceDtype, Quantizer qz) {
        Map<String, Entry> m = new LinkedHashMap<>();
        List<HfTensor> targets = new ArrayList<>();
        for (HfTensor t : tensors) {
            Role role = role(c, t);
            Storage storage = switch (role) {
                case QUANTIZE -> Storage.TERNARY;
                case INT8 -> Storage.INT8;
                case INT4 -> Storage.INT4;
                case KEEP -> isEmbedding(t) ? Storage.F16 : Storage.AS_STORED;
            };
            if (role == Role.QUANTIZE) {
                targets.add(t);
            }
            m.put(t.name(), new Entry(t, role, storage, sourceDtype.apply(t.name())));
        }
        // per-row or per-tensor scales: a property of the rule, asked once of a 2x2 probe
        boolean perRow =
                qz.quantize("probe", new float[] {1, -2, 3, 0.5f}, 2, 2).perRow();
        return new RolePlan(m, targets, perRow, targets.isEmpty() ? "none" : c.quantizerSpec());
    }

    private static Role role(CompressConfig c, HfTensor t) {
        if (Qat.isTarget(t)
                && t.numel() >= c.preserve_min_elements
                && c.preserve_patterns.stream().noneMatch(t.name()::contains)) {
            return c.int8_patterns.stream().anyMatch(t.name()::contains) ? Role.INT8 : Role.QUANTIZE;
        }
        if (!isEmbedding(t) || c.embedding_precision.equals("fp16")) {
            return Role.KEEP;
        }
        // "auto" is int8 until SensitiveLayers chose (it sets int8 or int4 before the final plan)
        return c.embedding_precision.equals("int4") && t.storedCols() % PackedModelFormat.INT4_BLOCK == 0
                ? Role.INT4
                : Role.INT8;
    }

    /** Token and position embeddings and the output head, 2-D: stored as int8 or F16, never ternary. */
    static boolean isEmbedding(HfTensor t) {
        Param.Kind kind = t.parts().get(0).kind;
        return t.shape().length == 2
                && (kind == Param.Kind.EMBEDDING || kind == Param.Kind.HEAD || kind == Param.Kind.POSITION);
    }

    public Map<String, Entry> entries() {
        return entries;
    }

    public Entry get(String name) {
        return entries.get(name);
    }

    /** The tensors to quantize, in model order. */
    public List<HfTensor> targets() {
        return targets;
    }

    public boolean isTarget(String name) {
        Entry e = entries.get(name);
        return e != null && e.role() == Role.QUANTIZE;
    }

    /** The packed file's declaration of every tensor. */
    public List<Slot> slots() {
        List<Slot> s = new ArrayList<>();
        for (Entry e : entries.values()) {
            s.add(new Slot(
                    e.name(), e.storage(), e.tensor().shape(), e.sourceDtype(), e.role() == Role.QUANTIZE && perRow));
        }
        return s;
    }

    /** The packed file's extra metadata (the quantizer spec, "none" when nothing is quantized). */
    public Map<String, String> metadata() {
        return Map.of("quantizer", quantizerSpec);
    }

    /** Per-row int8 of a tensor with role INT8: codes and scales (see {@link PackedModelFormat#quantizeInt8}). */
    public record Int8(byte[] q, float[] scale) {
        /** The values the int8 codes stand for (what the FP16 output stores). */
        public float[] dequantize(int cols) {
            float[] w = new float[q.length];
            for (int i = 0; i < q.length; i++) {
                w[i] = q[i] * scale[i / cols];
            }
            return w;
        }
    }

    /** Quantizes (rows, cols) FP32 values to per-row int8. */
    public static Int8 int8(float[] w, int rows, int cols) {
        byte[] q = new byte[w.length];
        float[] s = new float[rows];
        PackedModelFormat.quantizeInt8(w, rows, cols, q, s);
        return new Int8(q, s);
    }

    /** Int4 of a tensor with role INT4 (see {@link PackedModelFormat#quantizeInt4}): codes and F16 block scales. */
    public record Int4(byte[] codes, short[] scale16) {
        /** The values the codes stand for (what the FP16 output stores). */
        public float[] dequantize(int rows, int cols) {
            return PackedModelFormat.dequantizeInt4(codes, scale16, rows, cols);
        }
    }

    /** Quantizes (rows, cols) FP32 values to int4 in blocks of 32 (cols a multiple of 32). */
    public static Int4 int4(float[] w, int rows, int cols) {
        byte[] q = new byte[w.length / 2];
        short[] s = new short[w.length / PackedModelFormat.INT4_BLOCK];
        PackedModelFormat.quantizeInt4(w, rows, cols, q, s);
        return new Int4(q, s);
    }

    /** Opens the packed file writer for this plan. */
    public PackedFileWriter open(java.nio.file.Path file, CompressConfig c) throws java.io.IOException {
        return PackedFileWriter.open(file, bitnet.io.Packing.parse(c.packing), slots(), metadata());
    }
}
