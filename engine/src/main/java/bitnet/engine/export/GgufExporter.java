package bitnet.engine.export;

import bitnet.engine.compress.PackedLoader;
import bitnet.engine.util.OutputSafety;
import bitnet.io.BadInputException;
import bitnet.io.Checkpoint;
import bitnet.io.DType;
import bitnet.io.TensorData;
import bitnet.io.gguf.GgmlType;
import bitnet.io.gguf.GgufBlocks;
import bitnet.io.gguf.GgufFile;
import bitnet.io.gguf.GgufWriter;
import bitnet.io.packed.PackedModel;
import bitnet.io.packed.PackedModelFormat;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Supplier;

/**
 * Exports a model directory to a GGUF file llama.cpp runs: a compress output (packed ternary
 * weights, int8 or F16 embeddings; config and tokenizer from its FP16 directory) or a plain HF
 * directory. Storage types: ternary weights as the chosen TQ type where rows (ne[0]) are a
 * multiple of 256 (Q2_0, behind a flag: rows a multiple of 64), else exact Q4_0 (d = the row
 * scale, nibbles 7/8/9), else F16; int8 embeddings
 * as Q8_0 (d = the row scale), int4 ones as Q4_0 (the same blocks); vectors (norms, biases) F32; other matrices as stored or as
 * {@code --type}. Names and conventions per architecture are {@link GgufArch}'s, the vocabulary
 * {@link GgufVocab}'s. The file is marked as written by bitnet so --overwrite may replace it.
 */
public final class GgufExporter {
    public static final String FILE_NAME = "bitnet_model.gguf";
    private static final ObjectMapper JSON = new ObjectMapper();

    /** ternaryType: TQ2_0, TQ1_0 or Q2_0; floatType: null (as stored), F16 or F32; placeholderVocab for models without a tokenizer. */
    public record Options(GgmlType ternaryType, GgmlType floatType, boolean placeholderVocab) {
        public Options {
            if (ternaryType != GgmlType.TQ2_0 && ternaryType != GgmlType.TQ1_0 && ternaryType != GgmlType.Q2_0) {
                throw new IllegalArgumentException("ternary type must be tq2_0, tq1_0 or q2_0, got " + ternaryType);
            }
            if (floatType != null && floatType != GgmlType.F16 && floatType != GgmlType.F32) {
                throw new IllegalArgumentException("--type must be f16 or f32, got " + floatType);
            }
        }

        public static Options defaults() {
            return new Options(GgmlType.TQ2_0, null, false);
        }
    }

    /** What was written: the file, its size, tensors per GGUF type, the tokenizer model. */
    public record Result(Path path, long bytes, Map<String, Integer> tensors, String tokenizer) {}

    private GgufExporter() {}

    public static Result export(Path modelDir, Path out, Options opt) {
        boolean packed = PackedLoader.isCompressOutput(modelDir);
        Path hfDir = packed ? modelDir.resolve(PackedLoader.FP16_DIR) : modelDir;
        Path cfgFile = hfDir.resolve("config.json");
        JsonNode cfg = readConfig(cfgFile);
        GgufArch arch = new GgufArch(cfgFile, cfg);
        try (Arena arena = Arena.ofShared()) {
            Map<String, SourceTensor> hf = packed ? packedSources(modelDir, arena) : hfSources(hfDir, arena);
            GgufWriter w = new GgufWriter();
            w.putString("general.architecture", arch.arch());
            // compress writes into OUT.partial before its rename: name the model after OUT
            String name = String.valueOf(modelDir.toAbsolutePath().normalize().getFileName());
            w.putString("general.name", name.endsWith(".partial") ? name.substring(0, name.length() - 8) : name);
            w.putString(OutputSafety.WRITER_KEY, OutputSafety.WRITER_VALUE);
            Map<String, SourceTensor> tensors = arch.map(hf, w);
            SourceTensor emb = tensors.get("token_embd.weight");
            int vocab = emb != null ? emb.rows() : arch.vocabSize();
            String tok;
            if (opt.placeholderVocab()) {
                GgufVocab.placeholder(w, cfg, vocab);
                tok = "placeholder";
            } else {
                tok = GgufVocab.write(w, hfDir, cfg, vocab);
            }
            boolean quantized = false;
            for (Map.Entry<String, SourceTensor> e : tensors.entrySet()) {
                GgmlType type = typeFor(e.getValue(), opt);
                quantized |= type.blockSize() > 1;
                w.addTensor(e.getKey(), type, ne(e.getValue().shape()), encoder(e.getValue(), type));
            }
            if (quantized) {
                w.putU32("general.quantization_version", 2);
            }
            Map<String, Integer> counts = new LinkedHashMap<>();
            w.typeCounts().forEach((k, v) -> counts.put(k.ggmlName(), v));
            long bytes = w.write(out);
            return new Result(out, bytes, counts, tok);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + out + ": " + e.getMessage(), e);
        }
    }

    /** The GGUF type a tensor is stored as (see the class comment). */
    static GgmlType typeFor(SourceTensor t, Options opt) {
        if (t.shape().length == 1) {
            return GgmlType.F32;
        }
        int cols = t.cols();
        GgmlType fallback = opt.floatType() == GgmlType.F32 ? GgmlType.F32 : GgmlType.F16;
        return switch (t) {
            case SourceTensor.Ternary x ->
                cols % opt.ternaryType().blockSize() == 0
                        ? opt.ternaryType()
                        : cols % 32 == 0 ? GgmlType.Q4_0 : fallback;
            case SourceTensor.Int8 x -> cols % 32 == 0 ? GgmlType.Q8_0 : fallback;
            case SourceTensor.Int4 x -> GgmlType.Q4_0; // rows are whole blocks of 32 by the packed format
            case SourceTensor.Plain p ->
                opt.floatType() != null
                        ? opt.floatType()
                        : p.dtype() == DType.F16
                                ? GgmlType.F16
                                : p.dtype() == DType.BF16 ? GgmlType.BF16 : GgmlType.F32;
        };
    }

    /** ggml dims: HF (rows, cols) becomes ne = [cols, rows]. */
    static long[] ne(long[] shape) {
        long[] ne = new long[shape.length];
        for (int i = 0; i < shape.length; i++) {
            ne[i] = shape[shape.length - 1 - i];
        }
        return ne;
    }

    private static Supplier<byte[]> encoder(SourceTensor t, GgmlType type) {
        return () -> switch (type) {
            case Q4_0 -> {
                if (t instanceof SourceTensor.Int4 x) {
                    yield GgufBlocks.encodeQ4_0(x.codes(), x.scale16(), t.rows(), t.cols());
                }
                SourceTensor.Ternary x = (SourceTensor.Ternary) t;
                yield GgufBlocks.encodeTernary(type, x.codes(), x.scales(), t.rows(), t.cols());
            }
            case TQ2_0, TQ1_0, Q2_0 -> {
                SourceTensor.Ternary x = (SourceTensor.Ternary) t;
                yield GgufBlocks.encodeTernary(type, x.codes(), x.scales(), t.rows(), t.cols());
            }
            case Q8_0 -> {
                SourceTensor.Int8 x = (SourceTensor.Int8) t;
                yield GgufBlocks.encodeQ8_0(x.q(), x.scales(), t.rows(), t.cols());
            }
            case F32, F16, BF16 -> floatBytes(t, type);
        };
    }

    private static byte[] floatBytes(SourceTensor t, GgmlType type) {
        if (t instanceof SourceTensor.Plain p
                && p.data() != null
                && p.values() == null
                && p.dtype().safetensorsName().equals(type.name())) {
            return p.data().data().toArray(ValueLayout.JAVA_BYTE); // as stored: same bytes
        }
        float[] v = t.floats();
        byte[] b = new byte[Math.multiplyExact(v.length, type == GgmlType.F32 ? 4 : 2)];
        for (int i = 0; i < v.length; i++) {
            int bits = switch (type) {
                case F32 -> Float.floatToRawIntBits(v[i]);
                case F16 -> Float.floatToFloat16(v[i]);
                default -> DType.floatToBf16(v[i]);
            };
            int at = i * (type == GgmlType.F32 ? 4 : 2);
            b[at] = (byte) bits;
            b[at + 1] = (byte) (bits >> 8);
            if (type == GgmlType.F32) {
                b[at + 2] = (byte) (bits >> 16);
                b[at + 3] = (byte) (bits >> 24);
            }
        }
        return b;
    }

    /**
     * compress --gguf: writes {@link #FILE_NAME} (TQ2_0, placeholder vocabulary only when the
     * model has no tokenizer) into the output directory being written, and records its size and
     * FP32 ratio in metrics (gguf_bytes, gguf_compression_ratio) and its final path in paths.
     */
    public static void addToCompressOutput(
            Path outDir, Path finalDir, long fp32Bytes, Map<String, Object> metrics, Map<String, Object> paths) {
        boolean vocab =
                Files.isRegularFile(outDir.resolve(PackedLoader.FP16_DIR).resolve("tokenizer.json"));
        if (!vocab) {
            java.util.logging.Logger.getLogger("bitnet")
                    .warning("the model has no tokenizer.json: the GGUF gets a placeholder vocabulary");
        }
        Result r = export(outDir, outDir.resolve(FILE_NAME), new Options(GgmlType.TQ2_0, null, !vocab));
        metrics.put("gguf_bytes", r.bytes());
        metrics.put("gguf_compression_ratio", fp32Bytes / (double) r.bytes());
        metrics.put("gguf_tensors", r.tensors());
        paths.put("gguf", finalDir.resolve(FILE_NAME).toString());
    }

    private static Map<String, SourceTensor> hfSources(Path dir, Arena arena) {
        Map<String, SourceTensor> m = new LinkedHashMap<>();
        for (TensorData t : Checkpoint.openWeights(dir, arena).values()) {
            if (!t.dtype().isFloat()) {
                throw new BadInputException(
                        dir, "tensor '" + t.name() + "' is " + t.dtype().safetensorsName() + ", not a float type");
            }
            m.put(t.name(), SourceTensor.Plain.of(t));
        }
        return m;
    }

    private static Map<String, SourceTensor> packedSources(Path dir, Arena arena) {
        PackedModel pm = PackedModelFormat.open(dir.resolve(PackedModelFormat.FILE_NAME), arena);
        Map<String, SourceTensor> m = new LinkedHashMap<>();
        for (PackedModel.Entry e : pm.entries().values()) {
            SourceTensor s = switch (e.kind()) {
                case TERNARY -> {
                    PackedModel.Ternary t = pm.ternary(e.name());
                    float[] sc = t.perRow() ? t.scales() : filled(t.rows(), t.scales()[0]);
                    yield new SourceTensor.Ternary(e.shape(), pm.ternaryCodes(e.name()), sc);
                }
                case INT8 -> {
                    PackedModel.Int8 t = pm.int8(e.name());
                    yield new SourceTensor.Int8(e.shape(), t.data().data().toArray(ValueLayout.JAVA_BYTE), t.scales());
                }
                case INT4 -> {
                    PackedModel.Int4 t = pm.int4(e.name());
                    yield new SourceTensor.Int4(e.shape(), t.codes(), t.scale16());
                }
                case PLAIN -> SourceTensor.Plain.of(pm.plain(e.name()));
            };
            m.put(e.name(), s);
        }
        return m;
    }

    private static float[] filled(int n, float v) {
        float[] a = new float[n];
        Arrays.fill(a, v);
        return a;
    }

    private static JsonNode readConfig(Path f) {
        try {
            JsonNode n = JSON.readTree(Files.readString(f));
            if (n == null || !n.isObject()) {
                throw new BadInputException(f, "config is not a JSON object");
            }
            return n;
        } catch (java.nio.file.NoSuchFileException e) {
            throw new BadInputException(f, "file not found", e);
        } catch (IOException e) {
            throw new BadInputException(
                    f, "not valid JSON: " + e.getMessage().lines().findFirst().orElse(""), e);
        }
    }

    /** True when path is a GGUF file this engine wrote (its metadata carries the writer mark). */
    public static boolean writtenByUs(Path path) {
        try (InputStream in = Files.newInputStream(path)) {
            byte[] magic = in.readNBytes(4);
            if (!Arrays.equals(magic, new byte[] {'G', 'G', 'U', 'F'})) {
                return false;
            }
        } catch (IOException e) {
            return false;
        }
        try (Arena a = Arena.ofConfined()) {
            return OutputSafety.WRITER_VALUE.equals(GgufFile.open(path, a).get(OutputSafety.WRITER_KEY));
        } catch (RuntimeException e) {
            return false;
        }
    }
}
