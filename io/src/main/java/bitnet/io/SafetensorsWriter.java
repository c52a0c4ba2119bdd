package bitnet.io;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.OutputStream;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Collection;
import java.util.Map;
import java.util.TreeMap;

/**
 * Writes safetensors files the HF library reads: keys sorted, header padded with spaces to a
 * multiple of 8, data laid out in key order. Written under a temporary name, forced to disk,
 * then renamed, so a reader never sees a half-written file.
 */
public final class SafetensorsWriter {
    private static final ObjectMapper JSON = new ObjectMapper();

    private SafetensorsWriter() {}

    public static void write(Path path, Collection<TensorData> tensors, Map<String, String> metadata)
            throws IOException {
        TreeMap<String, TensorData> sorted = new TreeMap<>();
        for (TensorData t : tensors) {
            if (sorted.put(t.name(), t) != null) {
                throw new IllegalArgumentException("duplicate tensor name " + t.name());
            }
        }
        ObjectNode header = JSON.createObjectNode();
        if (metadata != null && !metadata.isEmpty()) {
            ObjectNode m = header.putObject("__metadata__");
            new TreeMap<>(metadata).forEach(m::put);
        }
        long off = 0;
        for (TensorData t : sorted.values()) {
            ObjectNode e = header.putObject(t.name());
            e.put("dtype", t.dtype().safetensorsName());
            var sh = e.putArray("shape");
            for (long d : t.shape()) {
                sh.add(d);
            }
            var o = e.putArray("data_offsets");
            o.add(off);
            off += t.data().byteSize();
            o.add(off);
        }
        byte[] h = JSON.writeValueAsString(header).getBytes(StandardCharsets.UTF_8);
        int padded = (h.length + 7) / 8 * 8;
        byte[] hp = new byte[padded];
        System.arraycopy(h, 0, hp, 0, h.length);
        for (int i = h.length; i < padded; i++) {
            hp[i] = ' ';
        }
        Path tmp = path.resolveSibling(path.getFileName() + ".tmp");
        try (FileChannel ch = FileChannel.open(
                        tmp,
                        StandardOpenOption.CREATE,
                        StandardOpenOption.TRUNCATE_EXISTING,
                        StandardOpenOption.WRITE);
                OutputStream os = new java.io.BufferedOutputStream(Channels.newOutputStream(ch), 1 << 20)) {
            ByteBuffer len =
                    ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(padded);
            os.write(len.array());
            os.write(hp);
            byte[] buf = new byte[1 << 20];
            for (TensorData t : sorted.values()) {
                MemorySegment seg = t.data();
                long n = seg.byteSize();
                for (long p = 0; p < n; p += buf.length) {
                    int k = (int) Math.min(buf.length, n - p);
                    MemorySegment.copy(seg, ValueLayout.JAVA_BYTE, p, buf, 0, k);
                    os.write(buf, 0, k);
                }
            }
            os.flush();
            ch.force(true);
        }
        Files.move(tmp, path, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }
}
