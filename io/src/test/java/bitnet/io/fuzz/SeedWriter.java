package bitnet.io.fuzz;

import bitnet.io.DType;
import bitnet.io.Packing;
import bitnet.io.SafetensorsWriter;
import bitnet.io.TensorData;
import bitnet.io.packed.PackedModelFormat;
import bitnet.io.torch.PickleBuilder;
import bitnet.io.torch.ZipBuilder;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * Writes the binary seed files of the fuzz corpus (run once by hand, output committed):
 * {@code java -cp <test classpath> bitnet.io.fuzz.SeedWriter io/src/test/resources/bitnet/io/fuzz/ParserFuzzTestInputs}.
 * Seeds are small (libFuzzer mutates small inputs fastest) but reach every branch of a valid file.
 */
public final class SeedWriter {
    private SeedWriter() {}

    public static void main(String[] args) throws IOException {
        Path root = Path.of(args[0]);
        Path tmp = Files.createTempDirectory("seeds");

        Path st = tmp.resolve("a.safetensors");
        SafetensorsWriter.write(
                st,
                List.of(
                        TensorData.ofFloats("w", new float[] {1, -2, 3, 0.5f, 0, 7}, 2, 3),
                        TensorData.ofFloats("b", new float[] {1, 2}, 2).convert(DType.BF16, null),
                        TensorData.ofBytes("ids", DType.I64, new byte[16], 2),
                        TensorData.ofFloats("empty", new float[0], 0, 4)),
                Map.of("format", "pt"));
        put(root, "safetensors", "seed-small", Files.readAllBytes(st));

        byte[] pk = new PickleBuilder()
                .proto(2)
                .op('}')
                .put()
                .op('(')
                .tensor("w", "FloatStorage", "0", 6, 0, new long[] {2, 3}, new long[] {3, 1})
                .tensor("t", "FloatStorage", "0", 6, 2, new long[] {4}, new long[] {1})
                .tensor("h", "BFloat16Storage", "1", 2, 0, new long[] {2}, new long[] {1})
                .str("n")
                .integer(7)
                .op('u', '.')
                .bytes();
        byte[] six = new byte[24];
        for (int i = 0; i < 6; i++) {
            six[4 * i + 3] = 0x3f;
        }
        byte[] zip = new ZipBuilder()
                .stored("archive/data.pkl", pk)
                .stored("archive/byteorder", "little".getBytes(StandardCharsets.US_ASCII))
                .stored("archive/data/0", six)
                .stored("archive/data/1", new byte[4])
                .stored("archive/version", "3\n".getBytes(StandardCharsets.US_ASCII))
                .build();
        put(root, "torchBin", "seed-stored", zip);
        byte[] zip64 = new ZipBuilder()
                .zip64(true)
                .deflated("archive/data.pkl", pk, pk.length)
                .stored("archive/data/0", six)
                .stored("archive/data/1", new byte[4])
                .build();
        put(root, "torchBin", "seed-zip64-deflated", zip64);

        for (Packing p : Packing.values()) {
            Path f = tmp.resolve("p-" + p.id());
            PackedModelFormat.writer(p)
                    .addTernary(
                            "layer.w",
                            2,
                            7,
                            DType.BF16,
                            new byte[] {1, 0, -1, 1, 1, 0, -1, 0, 0, 1, -1, -1, 1, 0},
                            new float[] {0.5f, 0.25f},
                            true)
                    .addTernary("layer.v", 1, 3, DType.F32, new byte[] {1, -1, 0}, new float[] {2f}, false)
                    .addInt8(TensorData.ofFloats("emb", new float[] {1, -2, 3, 4, 0, -1}, 2, 3))
                    .addF16(TensorData.ofFloats("head", new float[] {1, 2}, 1, 2))
                    .addPlain(TensorData.ofFloats("norm", new float[] {1, 1, 1}, 3))
                    .write(f, Map.of("source", "seed"));
            put(root, "packed", "seed-" + p.id(), Files.readAllBytes(f));
        }

        // GGUF: every value type the writer emits and one tensor per block type (rows of 256)
        byte[] codes = new byte[256];
        for (int i = 0; i < codes.length; i++) {
            codes[i] = (byte) (i % 3 - 1);
        }
        bitnet.io.gguf.GgufWriter g = new bitnet.io.gguf.GgufWriter()
                .putString("general.architecture", "llama")
                .putU32("llama.block_count", 1)
                .putF32("llama.rope.freq_base", 1e4f)
                .putBool("b", true)
                .putI32("i", -1)
                .putArray("tokenizer.ggml.tokens", bitnet.io.gguf.GgufWriter.ValueType.STRING, List.of("a", "b"))
                .putArray("p", bitnet.io.gguf.GgufWriter.ValueType.BOOL, List.of(true, false));
        for (bitnet.io.gguf.GgmlType t : bitnet.io.gguf.GgmlType.values()) {
            byte[] data = switch (t) {
                case TQ2_0, TQ1_0, Q4_0, Q2_0 ->
                    bitnet.io.gguf.GgufBlocks.encodeTernary(t, codes, new float[] {0.5f}, 1, 256);
                case Q8_0 -> bitnet.io.gguf.GgufBlocks.encodeQ8_0(codes, new float[] {0.5f}, 1, 256);
                default -> new byte[(int) t.rowBytes(256)];
            };
            g.addTensor("t." + t.ggmlName(), t, new long[] {256, 1}, () -> data);
        }
        Path gf = tmp.resolve("m.gguf");
        g.write(gf);
        put(root, "gguf", "seed-all-types", Files.readAllBytes(gf));
    }

    private static void put(Path root, String target, String name, byte[] b) throws IOException {
        Path d = root.resolve(target);
        Files.createDirectories(d);
        Files.write(d.resolve(name), b);
    }
}
