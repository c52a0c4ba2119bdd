package bitnet.io.torch;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import bitnet.io.BadInputException;
import bitnet.io.DType;
import bitnet.io.SafetensorsFile;
import bitnet.io.TensorData;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

/**
 * pytorch_model.bin reading: the HF fixture against an oracle written by Python's own zipfile +
 * pickle (fixtures/gpt2-bin-expected.safetensors, see make_gpt2_bin_expected.py), hand-built
 * archives for dtypes, tied storages and zip64, and hostile archives and pickles.
 */
class TorchCheckpointTest {
    static final Path NAME = Path.of("hostile.bin");

    @TempDir
    Path tmp;

    static Path fixture(String rel) throws Exception {
        return Path.of(TorchCheckpointTest.class.getResource("/fixtures/" + rel).toURI());
    }

    static ZipArchive zip(byte[] b) {
        return ZipArchive.parse(NAME, MemorySegment.ofArray(b));
    }

    /** A torch.save-shaped archive around a pickle and raw storages. */
    static ZipBuilder torchZip(byte[] pickle, Map<String, byte[]> storages) {
        ZipBuilder z = new ZipBuilder()
                .stored("archive/data.pkl", pickle)
                .stored("archive/byteorder", "little".getBytes(StandardCharsets.US_ASCII));
        storages.forEach((k, v) -> z.stored("archive/data/" + k, v));
        return z.stored("archive/version", "3\n".getBytes(StandardCharsets.US_ASCII));
    }

    /** A one-tensor state dict pickle. */
    static byte[] oneTensor(String type, long numel, long offset, long[] size, long[] stride) {
        PickleBuilder p = new PickleBuilder().proto(2).op('}').put().op('(');
        p.tensor("w", type, "0", numel, offset, size, stride);
        return p.op('u', '.').bytes();
    }

    static byte[] f32(float... v) {
        ByteBuffer b = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
        for (float x : v) {
            b.putFloat(x);
        }
        return b.array();
    }

    static BadInputException bad(Executable ex, String... parts) {
        BadInputException e = assertThrows(BadInputException.class, ex);
        for (String part : parts) {
            assertTrue(e.getMessage().contains(part), () -> "'" + e.getMessage() + "' lacks '" + part + "'");
        }
        return e;
    }

    @Test
    void gpt2BinMatchesPythonOracle() throws Exception {
        try (Arena arena = Arena.ofConfined()) {
            Map<String, TensorData> got = TorchCheckpoint.read(fixture("gpt2-bin/pytorch_model.bin"), arena);
            Map<String, TensorData> want = SafetensorsFile.open(fixture("gpt2-bin-expected.safetensors"), arena)
                    .tensors();
            assertEquals(29, got.size());
            assertEquals(want.keySet(), got.keySet());
            assertEquals("transformer.wte.weight", got.keySet().iterator().next()); // pickle order kept
            for (TensorData w : want.values()) {
                TensorData g = got.get(w.name());
                assertEquals(DType.F32, g.dtype());
                assertArrayEquals(w.shape(), g.shape(), w.name());
                assertEquals(-1, g.data().mismatch(w.data()), w.name());
                assertTrue(g.data().isNative(), "tensors are slices of the mapping");
            }
            // lm_head is tied to wte: the same storage, so the same mapped bytes.
            assertEquals(
                    got.get("transformer.wte.weight").data().address(),
                    got.get("lm_head.weight").data().address());
            assertArrayEquals(new long[] {300, 48}, got.get("lm_head.weight").shape());
        }
    }

    @Test
    void sharedStorageOffsetsAndBf16() {
        // One BF16 storage of 12 elements, viewed as a (2,3) tensor at 0 and a (6) tensor at 6.
        ByteBuffer st = ByteBuffer.allocate(24).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < 12; i++) {
            st.putShort(DType.floatToBf16(i * 0.5f));
        }
        PickleBuilder p = new PickleBuilder().proto(2).op('}').put().op('(');
        p.tensor("a", "BFloat16Storage", "7", 12, 0, new long[] {2, 3}, new long[] {3, 1});
        p.tensor("b", "BFloat16Storage", "7", 12, 6, new long[] {6}, new long[] {1});
        p.tensor("s", "BFloat16Storage", "7", 12, 11, new long[] {}, new long[] {});
        Map<String, TensorData> t = TorchCheckpoint.read(
                zip(torchZip(p.op('u', '.').bytes(), Map.of("7", st.array())).build()));
        assertEquals(java.util.List.of("a", "b", "s"), java.util.List.copyOf(t.keySet()));
        assertArrayEquals(new float[] {0, 0.5f, 1, 1.5f, 2, 2.5f}, t.get("a").toFloatArray());
        assertArrayEquals(new float[] {3, 3.5f, 4, 4.5f, 5, 5.5f}, t.get("b").toFloatArray());
        assertArrayEquals(new float[] {5.5f}, t.get("s").toFloatArray());
        assertEquals(DType.BF16, t.get("b").dtype());
        assertEquals(t.get("a").data().address() + 12, t.get("b").data().address());
    }

    @Test
    void parameterOrderedDictAndNonTensorValues() {
        // OrderedDict() REDUCE, items via SETITEMS, then BUILD with {'_metadata': {...}} as torch writes
        // for model.state_dict(); a Parameter wraps the tensor; an int entry is skipped.
        PickleBuilder q = new PickleBuilder().proto(2);
        q.global("collections", "OrderedDict").op(')', 'R').put().op('(');
        q.str("p");
        q.global("torch._utils", "_rebuild_parameter");
        q.op('(');
        q.global("torch._utils", "_rebuild_tensor_v2")
                .op('(', '(')
                .str("storage")
                .global("torch", "LongStorage")
                .str("k")
                .str("cpu")
                .integer(3)
                .op('t', 'Q')
                .integer(0)
                .ints(3)
                .ints(1)
                .op(0x89)
                .global("collections", "OrderedDict")
                .op(')', 'R', 't', 'R');
        q.op(0x88).global("collections", "OrderedDict").op(')', 'R', 't', 'R');
        q.str("n").integer(5);
        q.op('u');
        q.op('}').str("_metadata").op('}').op('s', 'b', '.');
        ByteBuffer st = ByteBuffer.allocate(24)
                .order(ByteOrder.LITTLE_ENDIAN)
                .putLong(-2)
                .putLong(7)
                .putLong(1L << 40);
        Map<String, TensorData> t = TorchCheckpoint.read(
                zip(torchZip(q.bytes(), Map.of("k", st.array())).build()));
        assertEquals(1, t.size());
        assertArrayEquals(new long[] {-2, 7, 1L << 40}, t.get("p").toLongArray());
    }

    @Test
    void zip64AndDeflatedPickleAreRead() {
        byte[] pickle = oneTensor("FloatStorage", 2, 0, new long[] {2}, new long[] {1});
        byte[] z = new ZipBuilder()
                .zip64(true)
                .deflated("m/data.pkl", pickle, pickle.length)
                .stored("m/data/0", f32(1.5f, -2f))
                .build();
        assertArrayEquals(
                new float[] {1.5f, -2f}, TorchCheckpoint.read(zip(z)).get("w").toFloatArray());
    }

    @Test
    void forbiddenGlobalsAreRefusedByName() {
        byte[] osSystem = new PickleBuilder()
                .proto(2)
                .global("os", "system")
                .str("echo pwned")
                .op(0x85, 'R', '.')
                .bytes();
        bad(
                () -> TorchCheckpoint.read(zip(torchZip(osSystem, Map.of()).build())),
                NAME.toString(),
                "pickle names a forbidden global 'os.system'; only tensor checkpoints are read");
        byte[] eval = new PickleBuilder()
                .proto(4)
                .op(0x95, 0, 0, 0, 0, 0, 0, 0, 0)
                .stackGlobal("builtins", "eval")
                .str("1+1")
                .op(0x85, 'R', '.')
                .bytes();
        bad(() -> TorchCheckpoint.read(zip(torchZip(eval, Map.of()).build())), "forbidden global 'builtins.eval'");
        byte[] fromBytes = new PickleBuilder()
                .proto(2)
                .global("torch.storage", "_load_from_bytes")
                .op('.')
                .bytes();
        bad(
                () -> TorchCheckpoint.read(zip(torchZip(fromBytes, Map.of()).build())),
                "forbidden global 'torch.storage._load_from_bytes'");
        // An allowed name used as something it is not: REDUCE on a storage class builds nothing.
        byte[] callStorage = new PickleBuilder()
                .proto(2)
                .global("torch", "FloatStorage")
                .op(')', 'R', '.')
                .bytes();
        bad(() -> TorchCheckpoint.read(zip(torchZip(callStorage, Map.of()).build())), "not callable");
    }

    @Test
    void hostilePickles() {
        java.util.function.Function<byte[], Executable> run =
                pk -> () -> TorchCheckpoint.read(zip(torchZip(pk, Map.of()).build()));
        // BINUNICODE8 claiming a terabyte: refused before allocating.
        byte[] hugeStr = new PickleBuilder()
                .proto(4)
                .op(0x8d)
                .op(0, 0, 0, 0, 0, 1, 0, 0)
                .op('.')
                .bytes();
        assertTimeoutPreemptively(Duration.ofSeconds(5), () -> bad(run.apply(hugeStr), "exceeds the limit"));
        byte[] claimsMore =
                new PickleBuilder().proto(2).op('X', 0, 0, 1, 0).op('.').bytes();
        bad(run.apply(claimsMore), "truncated");
        bad(run.apply(new PickleBuilder().proto(2).op('}').bytes()), "truncated");
        bad(run.apply(new PickleBuilder().proto(2).op(0x81).bytes()), "unsupported pickle opcode 0x81");
        bad(run.apply(new PickleBuilder().proto(2).op('h', 9, '.').bytes()), "memo index 9");
        bad(run.apply(new PickleBuilder().proto(2).op('t', '.').bytes()), "no MARK");
        bad(run.apply(new PickleBuilder().proto(2).op('N', 'N', '.').bytes()), "2 objects");
        bad(run.apply(new PickleBuilder().proto(2).op(']', 'N', 'N', 's', '.').bytes()), "SETITEM(S) on a");
        bad(run.apply(new PickleBuilder().proto(2).op(']', 'N', 'b', '.').bytes()), "BUILD on a");
        bad(run.apply(new PickleBuilder().proto(2).op(']', '.').bytes()), "not a dict");
        bad(run.apply(new PickleBuilder().proto(9).bytes()), "protocol 9");
        // A persistent id that is not a storage tuple.
        bad(run.apply(new PickleBuilder().proto(2).str("x").op('Q', '.').bytes()), "persistent id");
        // A self-referencing list used as a dict key would hash forever; keys are scalars only.
        bad(
                run.apply(new PickleBuilder()
                        .proto(2)
                        .op('}', ']')
                        .put()
                        .op('h', 0, 'a', 'N', 's', '.')
                        .bytes()),
                "dict key");
    }

    @Test
    void badTensorsAreRefused() {
        byte[] six = f32(1, 2, 3, 4, 5, 6);
        bad(
                () -> TorchCheckpoint.read(zip(torchZip(
                                oneTensor("FloatStorage", 6, 0, new long[] {2, 3}, new long[] {1, 2}), Map.of("0", six))
                        .build())),
                "'w'",
                "not contiguous");
        bad(
                () -> TorchCheckpoint.read(zip(
                        torchZip(oneTensor("FloatStorage", 6, 4, new long[] {4}, new long[] {1}), Map.of("0", six))
                                .build())),
                "outside its storage");
        bad(
                () -> TorchCheckpoint.read(zip(torchZip(
                                oneTensor("FloatStorage", 1L << 40, 0, new long[] {2}, new long[] {1}),
                                Map.of("0", six))
                        .build())),
                "truncated");
        bad(
                () -> TorchCheckpoint.read(zip(
                        torchZip(oneTensor("FloatStorage", 6, 0, new long[] {6}, new long[] {1}), Map.of())
                                .build())),
                "storage entry 'archive/data/0' is missing");
        byte[] be = new ZipBuilder()
                .stored("a/data.pkl", oneTensor("FloatStorage", 6, 0, new long[] {6}, new long[] {1}))
                .stored("a/byteorder", "big".getBytes(StandardCharsets.US_ASCII))
                .stored("a/data/0", six)
                .build();
        bad(() -> TorchCheckpoint.read(zip(be)), "byteorder 'big'");
        byte[] deflatedStorage = new ZipBuilder()
                .stored("a/data.pkl", oneTensor("FloatStorage", 6, 0, new long[] {6}, new long[] {1}))
                .deflated("a/data/0", six, six.length)
                .build();
        bad(() -> TorchCheckpoint.read(zip(deflatedStorage)), "compressed");
        bad(() -> TorchCheckpoint.read(zip(new ZipBuilder().stored("x.txt", six).build())), "no <name>/data.pkl");
    }

    @Test
    void zipBombsFailFast() {
        byte[] zeros = new byte[16 << 20];
        assertTimeoutPreemptively(Duration.ofSeconds(10), () -> {
            // Declares a terabyte (zip64 size): refused from the header alone.
            byte[] declared =
                    new ZipBuilder().deflated("a/data.pkl", zeros, 1L << 40).build();
            bad(() -> TorchCheckpoint.read(zip(declared)), "a/data.pkl", "declares 1099511627776 bytes");
            // Declares 1000 bytes but inflates to 16 MB: stops at the declared size.
            byte[] liar = new ZipBuilder().deflated("a/data.pkl", zeros, 1000).build();
            bad(() -> TorchCheckpoint.read(zip(liar)), "inflates past its declared size of 1000");
            // Declares more than it holds.
            byte[] shortData =
                    new ZipBuilder().deflated("a/data.pkl", new byte[10], 5000).build();
            bad(() -> TorchCheckpoint.read(zip(shortData)), "does not match its declared size");
        });
    }

    @Test
    void corruptZipsAreRefused() throws Exception {
        byte[] good = Files.readAllBytes(fixture("gpt2-bin/pytorch_model.bin"));
        Path half = tmp.resolve("half.bin");
        Files.write(half, Arrays.copyOf(good, good.length / 2));
        try (Arena arena = Arena.ofConfined()) {
            bad(() -> TorchCheckpoint.read(half, arena), half.toString(), "not a zip archive");
            Path lastByte = tmp.resolve("cut1.bin");
            Files.write(lastByte, Arrays.copyOf(good, good.length - 1));
            bad(() -> TorchCheckpoint.read(lastByte, arena), "not a zip archive");
            Path empty = tmp.resolve("empty.bin");
            Files.write(empty, new byte[0]);
            bad(() -> TorchCheckpoint.read(empty, arena), "too short");
            bad(() -> TorchCheckpoint.read(tmp.resolve("absent.bin"), arena), "file not found");
        }
        // Central directory offset beyond the file.
        byte[] z = new ZipBuilder().stored("a/data.pkl", new byte[] {'.'}).build();
        byte[] farCd = z.clone();
        ByteBuffer.wrap(farCd).order(ByteOrder.LITTLE_ENDIAN).putInt(farCd.length - 6, farCd.length + 100);
        bad(() -> zip(farCd), "central directory", "outside the file");
        // A local header offset pointing past the entries.
        byte[] farLocal = z.clone();
        int cd = ByteBuffer.wrap(z).order(ByteOrder.LITTLE_ENDIAN).getInt(z.length - 6);
        ByteBuffer.wrap(farLocal).order(ByteOrder.LITTLE_ENDIAN).putInt(cd + 42, 1 << 30);
        bad(() -> zip(farLocal), "local header offset");
        // A stored entry whose size runs past the central directory.
        byte[] longEntry = z.clone();
        ByteBuffer.wrap(longEntry)
                .order(ByteOrder.LITTLE_ENDIAN)
                .putInt(cd + 20, 1 << 20)
                .putInt(cd + 24, 1 << 20);
        bad(() -> zip(longEntry), "runs past");
        // Entry count larger than the central directory can hold.
        byte[] manyEntries = z.clone();
        ByteBuffer.wrap(manyEntries).order(ByteOrder.LITTLE_ENDIAN).putShort(z.length - 12, (short) 5000);
        bad(() -> zip(manyEntries), "claims 5000 entries");
        // A zip64 locator pointing nowhere.
        byte[] z64 = new ZipBuilder()
                .zip64(true)
                .stored("a/data.pkl", new byte[] {'.'})
                .build();
        ByteBuffer.wrap(z64).order(ByteOrder.LITTLE_ENDIAN).putLong(z64.length - 22 - 12, 1L << 50);
        bad(() -> zip(z64), "zip64 end record offset");
    }

    @Test
    void zipSlicesAreZeroCopy() throws Exception {
        Path f = tmp.resolve("t.bin");
        Files.write(
                f,
                torchZip(oneTensor("FloatStorage", 2, 0, new long[] {2}, new long[] {1}), Map.of("0", f32(3, 4)))
                        .build());
        try (Arena arena = Arena.ofConfined()) {
            ZipArchive z = ZipArchive.open(f, arena);
            Map<String, TensorData> t = TorchCheckpoint.read(z);
            MemorySegment s = z.slice("archive/data/0");
            assertEquals(s.address(), t.get("w").data().address());
            assertEquals(0, s.address() % 64, "torch-style 64-byte alignment kept");
            assertEquals(
                    4f, t.get("w").data().get(ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 4));
            Map<String, ZipArchive.Entry> e = new LinkedHashMap<>(z.entries());
            assertEquals(4, e.size());
        }
    }
}
