package bitnet.io.fuzz;

import bitnet.io.BadInputException;
import bitnet.io.Checkpoint;
import bitnet.io.ModelConfig;
import bitnet.io.SafetensorsFile;
import bitnet.io.packed.PackedModel;
import bitnet.io.tokenizer.Tokenizer;
import bitnet.io.torch.TorchCheckpoint;
import bitnet.io.torch.ZipArchive;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The fuzz targets: one entry per parser, each taking raw bytes. The property is the same for all:
 * the parser either succeeds or throws {@link BadInputException}; anything else escaping (another
 * exception, an Error) is a finding. Each target also bounds what one input may cost: heap bytes
 * allocated by this thread (a small file must not make the parser allocate for a huge claimed
 * size) and, for encoding, time per character. Used by both Jazzer ({@link ParserFuzzTest}) and
 * the seeded mutation fuzzer ({@link MutationFuzzTest}). Not thread-safe (shared scratch files).
 */
public final class FuzzTargets {
    private FuzzTargets() {}

    /** Heap a parse may allocate: a fixed allowance plus a multiple of the input size. */
    static final long ALLOC_BASE = 96L << 20;

    static final long ALLOC_PER_BYTE = 512;

    private static final com.sun.management.ThreadMXBean THREADS =
            (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
    private static final Path NAME = Path.of("fuzz-input");
    private static Path scratch;

    /** A run of a parser under the allocation bound. */
    interface Body {
        void run() throws IOException;
    }

    static void guarded(byte[] input, Body body) {
        long limit = ALLOC_BASE + ALLOC_PER_BYTE * input.length;
        long used = allocated(body);
        if (used > limit) {
            // The first call of a parser also pays for class loading and static tables; only an
            // input that allocates too much again on a second run is a finding.
            used = allocated(body);
        }
        if (used > limit) {
            throw new IllegalStateException("a " + input.length + "-byte input made the parser allocate " + used
                    + " bytes (limit " + limit + ")");
        }
    }

    private static long allocated(Body body) {
        long before = THREADS.getCurrentThreadAllocatedBytes();
        try {
            body.run();
        } catch (BadInputException expected) {
            // The one allowed outcome besides success.
        } catch (IOException e) {
            throw new UncheckedIOException("scratch file I/O failed (not a finding about the parser)", e);
        }
        return THREADS.getCurrentThreadAllocatedBytes() - before;
    }

    static synchronized Path scratch() {
        if (scratch == null) {
            try {
                scratch = Files.createTempDirectory("bitnet-fuzz");
                scratch.toFile().deleteOnExit();
                // A sharded checkpoint whose index the shard-index target replaces.
                Path sh = scratch.resolve("sharded");
                Files.createDirectories(sh);
                for (String f : new String[] {
                    "config.json",
                    "model-00001-of-00003.safetensors",
                    "model-00002-of-00003.safetensors",
                    "model-00003-of-00003.safetensors"
                }) {
                    Files.write(sh.resolve(f), Seeds.resource("/fixtures/llama3rope-bf16-sharded/" + f));
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return scratch;
    }

    /** A safetensors image parsed in memory (header JSON, dtypes, shapes, offsets, overlaps). */
    public static void safetensors(byte[] data) {
        guarded(data, () -> SafetensorsFile.parse(NAME, MemorySegment.ofArray(data)));
    }

    /** A pytorch_model.bin: zip directory, local headers, inflating data.pkl, the restricted unpickler. */
    public static void torchBin(byte[] data) {
        guarded(data, () -> TorchCheckpoint.read(ZipArchive.parse(NAME, MemorySegment.ofArray(data))));
    }

    /** A packed ternary model file (safetensors plus its metadata 'tensors' JSON and code checks). */
    public static void packed(byte[] data) {
        guarded(data, () -> {
            PackedModel m = PackedModel.parse(NAME, MemorySegment.ofArray(data));
            for (String n : m.names()) {
                m.dequantize(n);
            }
        });
    }

    /** A GGUF image: header, metadata, tensor infos, then every tensor decoded. */
    public static void gguf(byte[] data) {
        guarded(data, () -> {
            bitnet.io.gguf.GgufFile g = bitnet.io.gguf.GgufFile.parse(NAME, MemorySegment.ofArray(data));
            for (bitnet.io.gguf.GgufFile.TensorInfo t : g.tensors().values()) {
                t.toFloats();
            }
        });
    }

    /** config.json through ModelConfig.load (JSON, then the typed record). */
    public static void config(byte[] data) {
        guarded(data, () -> {
            Path f = scratch().resolve("config.json");
            Files.write(f, data);
            ModelConfig.load(f);
        });
    }

    /** model.safetensors.index.json of a real three-shard checkpoint, opened with Checkpoint.open. */
    public static void shardIndex(byte[] data) {
        guarded(data, () -> {
            Path dir = scratch().resolve("sharded");
            Files.write(dir.resolve(Checkpoint.SAFETENSORS_INDEX), data);
            try (Arena arena = Arena.ofConfined()) {
                Checkpoint.open(dir, arena);
            }
        });
    }

    /** tokenizer.json: load, then encode and decode a fixed text and a text cut from the input. */
    public static void tokenizer(byte[] data) {
        guarded(data, () -> {
            Path f = scratch().resolve("tokenizer.json");
            Files.write(f, data);
            Tokenizer t = Tokenizer.load(f);
            encodeChecked(t, "Hello, world! <s> 123  \n\t été 日本 🙂");
            encodeChecked(t, text(data, 0));
        });
    }

    private static final ConcurrentHashMap<String, Tokenizer> REAL = new ConcurrentHashMap<>();
    static final String[] REAL_TOKENIZERS = {
        "gpt2/tokenizer.json", "llama3/tokenizer.json", "stories260K-tokenizer.json", "demo-tokenizer.json"
    };

    /** Arbitrary text through the real tokenizers: byte 0 picks the tokenizer, the rest is the text. */
    public static void encode(byte[] data) {
        if (data.length == 0) {
            return;
        }
        String rel = REAL_TOKENIZERS[(data[0] & 0xff) % REAL_TOKENIZERS.length];
        Tokenizer t = REAL.computeIfAbsent(rel, r -> Tokenizer.load(Seeds.resourcePath("/tokenizers/" + r)));
        guarded(data, () -> encodeChecked(t, text(data, 1)));
    }

    /** Odd first byte: the rest as UTF-16LE code units (lone surrogates included); even: as UTF-8. */
    static String text(byte[] data, int from) {
        if (data.length <= from) {
            return "";
        }
        if ((data[0] & 1) != 0) {
            char[] c = new char[(data.length - from) / 2];
            for (int i = 0; i < c.length; i++) {
                c[i] = (char) ((data[from + 2 * i] & 0xff) | (data[from + 2 * i + 1] & 0xff) << 8);
            }
            return new String(c);
        }
        return new String(data, from, data.length - from, StandardCharsets.UTF_8);
    }

    /**
     * Encoding must stay linear: a generous bound of 50 µs per char plus 200 ms. A slow first call
     * is timed again (cold JIT of instrumented code on a loaded machine once made 4,050 chars take
     * 540 ms, then 8 ms); only an input slow twice is a finding.
     */
    static void encodeChecked(Tokenizer t, String s) {
        long limit = 200_000_000L + 50_000L * s.length();
        long ns = timedEncode(t, s);
        if (ns > limit) {
            ns = timedEncode(t, s);
        }
        if (ns > limit) {
            throw new IllegalStateException("encoding " + s.length() + " chars took " + ns / 1_000_000 + " ms");
        }
    }

    private static long timedEncode(Tokenizer t, String s) {
        long t0 = System.nanoTime();
        int[] ids = t.encode(s, true);
        long ns = System.nanoTime() - t0;
        t.decode(ids);
        t.decode(ids, true);
        return ns;
    }
}
