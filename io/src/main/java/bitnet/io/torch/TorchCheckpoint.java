package bitnet.io.torch;

import bitnet.io.BadInputException;
import bitnet.io.DType;
import bitnet.io.TensorData;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Reads a pytorch_model.bin written by torch.save (PyTorch 1.6+ zip format: &lt;name&gt;/data.pkl,
 * &lt;name&gt;/data/&lt;key&gt;, &lt;name&gt;/byteorder, ...) into named tensors that are zero-copy slices of the
 * memory-mapped file. Tensors sharing a storage (tied weights) are slices of the same bytes.
 * Only contiguous (row-major) little-endian tensors are accepted; non-tensor values of the state
 * dict are skipped. It is not a general torch.load: the pickle goes through {@link Unpickler},
 * which refuses every global outside a short list, and the legacy (pre-1.6, non-zip) format is refused.
 */
public final class TorchCheckpoint {
    /** Limit for a compressed data.pkl (torch stores it uncompressed, so only a hostile file hits this). */
    static final long MAX_INFLATED_PICKLE = 64L << 20;

    private TorchCheckpoint() {}

    /** All tensors of the state dict in pickle order; the mapping lives as long as the arena. */
    public static Map<String, TensorData> read(Path file, Arena arena) {
        return read(ZipArchive.open(file, arena));
    }

    /** As {@link #read(Path, Arena)}, for an archive already indexed (tests build archives in memory). */
    public static Map<String, TensorData> read(ZipArchive zip) {
        Path path = zip.path();
        String prefix = null;
        for (String name : zip.entries().keySet()) {
            int slash = name.indexOf('/');
            if (slash > 0 && name.substring(slash + 1).equals("data.pkl")) {
                if (prefix != null) {
                    throw new BadInputException(
                            path, "archive holds more than one data.pkl ('" + prefix + "data.pkl', '" + name + "')");
                }
                prefix = name.substring(0, slash + 1);
            }
        }
        if (prefix == null) {
            throw new BadInputException(path, "not a torch checkpoint: the zip has no <name>/data.pkl entry");
        }
        if (zip.entries().containsKey(prefix + "byteorder")) {
            String order = new String(zip.readBytes(prefix + "byteorder", 64), StandardCharsets.US_ASCII).trim();
            if (!order.equals("little")) {
                throw new BadInputException(path, "byteorder '" + order + "' is not supported (only little-endian)");
            }
        }
        String pklName = prefix + "data.pkl";
        ZipArchive.Entry pkl = zip.entry(pklName);
        MemorySegment pickle = pkl.method() == ZipArchive.STORED
                ? zip.slice(pklName)
                : MemorySegment.ofArray(zip.readBytes(pklName, MAX_INFLATED_PICKLE));
        Object top = Unpickler.load(path, pklName, pickle);
        if (!(top instanceof Map<?, ?> dict)) {
            throw new BadInputException(path, pklName + ": the pickle holds no state dict (not a dict)");
        }
        Map<String, MemorySegment> storages = new HashMap<>();
        Map<String, TensorData> out = new LinkedHashMap<>();
        for (Map.Entry<?, ?> e : dict.entrySet()) {
            if (!(e.getKey() instanceof String name)) {
                throw new BadInputException(path, pklName + ": state dict key is not a string");
            }
            if (!(e.getValue() instanceof Unpickler.TensorRef t)) {
                continue;
            }
            out.put(name, tensor(zip, prefix, name, t, storages));
        }
        return Collections.unmodifiableMap(out);
    }

    private static TensorData tensor(
            ZipArchive zip, String prefix, String name, Unpickler.TensorRef t, Map<String, MemorySegment> storages) {
        Path path = zip.path();
        Unpickler.StorageRef s = t.storage();
        DType dt = s.dtype();
        MemorySegment bytes = storages.get(s.key());
        if (bytes == null) {
            String entry = prefix + "data/" + s.key();
            if (!zip.entries().containsKey(entry)) {
                throw new BadInputException(path, "tensor '" + name + "': storage entry '" + entry + "' is missing");
            }
            bytes = zip.slice(entry);
            storages.put(s.key(), bytes);
        }
        long storageBytes;
        long numel;
        long begin;
        try {
            storageBytes = Math.multiplyExact(s.numel(), dt.size());
            numel = TensorData.numel(t.size());
            begin = Math.multiplyExact(t.offset(), dt.size());
            Math.multiplyExact(Math.addExact(t.offset(), numel), dt.size());
        } catch (ArithmeticException ex) {
            throw new BadInputException(path, "tensor '" + name + "': size overflows");
        }
        if (bytes.byteSize() < storageBytes) {
            throw new BadInputException(
                    path,
                    "tensor '" + name + "': storage '" + s.key() + "' holds " + bytes.byteSize()
                            + " bytes but declares " + s.numel() + " " + dt + " elements: truncated file");
        }
        if (t.offset() + numel > s.numel()) {
            throw new BadInputException(
                    path,
                    "tensor '" + name + "': elements [" + t.offset() + ", " + (t.offset() + numel)
                            + ") lie outside its storage of " + s.numel() + " elements");
        }
        if (numel > 0) {
            long expected = 1;
            for (int i = t.size().length - 1; i >= 0; i--) {
                if (t.size()[i] != 1 && t.stride()[i] != expected) {
                    throw new BadInputException(
                            path,
                            "tensor '" + name + "': strides " + Arrays.toString(t.stride()) + " for size "
                                    + Arrays.toString(t.size())
                                    + " are not contiguous (row-major); save it with .contiguous()");
                }
                expected *= t.size()[i];
            }
        }
        return new TensorData(name, dt, t.size(), bytes.asSlice(begin, numel * dt.size()));
    }
}
