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
import bitnet.kernels.cpu.Int8Weight;
import bitnet.kernels.ternary.TernaryWeight;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Runs a compress output directly from bitnet_quantized_model.safetensors: ternary linear
 * weights stay packed (the ternary kernels read them in place), int8 tensors stay int8
 * ({@link Int8Weight}), everything else is read from the file. The config comes from the FP16 directory beside it.
 */
public final class PackedLoader {
    public static final String FP16_DIR = "bitnet_dequantized_fp16";

    private PackedLoader() {
    }

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
            if (e.kind() == PackedModelFormat.Kind.TERNARY && t.layout() == HfTensor.Layout.IDENTITY) {
                TernaryWeight w = TernaryWeight.of(pm.ternary(t.name()));
                if (w.rows() != p0.rows || w.cols() != p0.cols) {
                    throw new BadInputException(pm.path(), t.name() + ": packed shape does not match the config");
                }
                p0.weight = w;
                p0.value = null;
            } else if (e.kind() == PackedModelFormat.Kind.INT8 && t.layout() == HfTensor.Layout.IDENTITY
                    && (long) p0.rows * p0.cols <= Int8Weight.MAX_BYTES) {
                // int8 embeddings / head stay int8: a quarter of the bytes per decoded token
                PackedModel.Int8 q = pm.int8(t.name());
                if (q.rows() != p0.rows || q.cols() != p0.cols) {
                    throw new BadInputException(pm.path(), t.name() + ": int8 shape does not match the config");
                }
                p0.weight = new Int8Weight(q.data().data(), q.scales(), q.rows(), q.cols());
                p0.value = null;
            } else {
                m.setHf(t, pm.dequantize(t.name()).toFloatArray());
            }
        }
        return m;
    }
}
