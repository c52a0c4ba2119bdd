package bitnet.engine.compress;

import bitnet.engine.model.HfTensor;
import bitnet.engine.model.Model;
import bitnet.engine.model.Models;
import bitnet.engine.model.Param;
import bitnet.io.BadInputException;
import bitnet.io.ModelConfig;
import bitnet.io.packed.PackedModel;
import bitnet.io.packed.PackedModelFormat;
import bitnet.kernels.Kernels;
import bitnet.kernels.Weight;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Runs a compress output directly from bitnet_quantized_model.safetensors: ternary linear
 * weights stay packed (the ternary kernels read them in place), int8 tensors stay int8
 * (the backend's int8 weight), everything else is read from the file. The config comes from the FP16 directory beside it.
 */
public final class PackedLoader {
    public static final String FP16_DIR = "bitnet_dequantized_fp16";

    private PackedLoader() {}

    public static boolean isCompressOutput(Path dir) {
        return Files.isRegularFile(dir.resolve(PackedModelFormat.FILE_NAME));
    }

    public static Model load(Path dir, Kernels k, Arena arena) {
        Path cfgFile = dir.resolve(FP16_DIR).resolve("config.json");
        ModelConfig cfg = ModelConfig.load(cfgFile);
        PackedModel pm = PackedModelFormat.open(dir.resolve(PackedModelFormat.FILE_NAME), arena);
        Model m = Models.create(cfg, k);
        for (HfTensor t : m.tensors().values()) {
            if (!pm.names().contains(t.name())) {
                throw new BadInputException(pm.path(), "missing tensor '" + t.name() + "'");
            }
            PackedModel.Entry e = pm.entry(t.name());
            Param p0 = t.parts().get(0);
            Weight int8;
            if (e.kind() == PackedModelFormat.Kind.TERNARY && t.layout() == HfTensor.Layout.IDENTITY) {
                PackedModel.Ternary pt = pm.ternary(t.name());
                if (pt.rows() != p0.rows || pt.cols() != p0.cols) {
                    throw new BadInputException(pm.path(), t.name() + ": packed shape does not match the config");
                }
                p0.weight = k.ternaryWeight(pt.packing(), pt.packed(), pt.scales(), pt.rows(), pt.cols());
                p0.value = null;
            } else if (e.kind() == PackedModelFormat.Kind.TERNARY && t.layout() == HfTensor.Layout.ROWS) {
                fusedRows(pm, t, k);
            } else if (e.kind() == PackedModelFormat.Kind.INT8
                    && t.layout() == HfTensor.Layout.IDENTITY
                    && (int8 = int8Weight(pm, t.name(), p0, k)) != null) {
                // int8 embeddings / head stay int8: a quarter of the bytes per decoded token
                p0.weight = int8;
                p0.value = null;
            } else if (e.kind() == PackedModelFormat.Kind.INT4
                    && t.layout() == HfTensor.Layout.IDENTITY
                    && (int8 = int4Weight(pm, t.name(), p0, k)) != null) {
                // int4 embeddings / head: int8 codes with block scales, the values of the FP16 output
                p0.weight = int8;
                p0.value = null;
            } else {
                float[] v = pm.dequantize(t.name()).toFloatArray();
                finite(pm, t.name(), "value", v);
                m.setHf(t, v);
            }
        }
        return m;
    }

    /**
     * A fused ternary tensor (Phi-3's qkv_proj and gate_up_proj, GPT-NeoX's query_key_value):
     * each part is a ternary weight over its rows of the packed tensor, a slice of the file when
     * the rows are one block, else a copy of those rows' packed bytes (packing is per row).
     */
    private static void fusedRows(PackedModel pm, HfTensor t, Kernels k) {
        PackedModel.Ternary all = pm.ternary(t.name());
        if (all.rows() != t.storedRows() || all.cols() != t.storedCols()) {
            throw new BadInputException(pm.path(), t.name() + ": packed shape does not match the config");
        }
        long bpr = all.packing().bytesPerRow(all.cols());
        for (int i = 0; i < t.parts().size(); i++) {
            Param p = t.parts().get(i);
            int[] rows = t.rowMap()[i];
            MemorySegment bytes;
            int start = t.contiguousStart(i);
            if (start >= 0) {
                bytes = all.packed().asSlice(start * bpr, rows.length * bpr);
            } else {
                bytes = MemorySegment.ofArray(new byte[Math.toIntExact(rows.length * bpr)]);
                for (int r = 0; r < rows.length; r++) {
                    MemorySegment.copy(all.packed(), rows[r] * bpr, bytes, r * bpr, bpr);
                }
            }
            float[] scales = all.scales();
            if (all.perRow()) {
                scales = new float[rows.length];
                for (int r = 0; r < rows.length; r++) {
                    scales[r] = all.scales()[rows[r]];
                }
            }
            p.weight = k.ternaryWeight(all.packing(), bytes, scales, p.rows, p.cols);
            p.value = null;
        }
    }

    /**
     * A NaN/Inf value of a tensor kept as stored is bad input, as NaN/Inf weights are for every
     * command (not silent NaN logits); PackedModel checks the scales of ternary and int8 tensors.
     */
    private static void finite(PackedModel pm, String name, String what, float[] a) {
        for (int i = 0; i < a.length; i++) {
            if (!Float.isFinite(a[i])) {
                throw new BadInputException(
                        pm.path(),
                        "tensor '" + name + "': " + what + " [" + i + "] is " + a[i] + " (NaN/Inf in a packed model)");
            }
        }
    }

    private static Weight int4Weight(PackedModel pm, String name, Param p0, Kernels k) {
        PackedModel.Int4 q = pm.int4(name);
        if (q.rows() != p0.rows || q.cols() != p0.cols) {
            throw new BadInputException(pm.path(), name + ": int4 shape does not match the config");
        }
        return k.int4Weight(q.codes(), q.scale16(), q.rows(), q.cols());
    }

    private static Weight int8Weight(PackedModel pm, String name, Param p0, Kernels k) {
        PackedModel.Int8 q = pm.int8(name);
        if (q.rows() != p0.rows || q.cols() != p0.cols) {
            throw new BadInputException(pm.path(), name + ": int8 shape does not match the config");
        }
        return k.int8Weight(q.data().data(), q.scales(), q.rows(), q.cols());
    }
}
