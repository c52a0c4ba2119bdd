package bitnet.io;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Writes a safetensors file tensor by tensor, so memory holds one tensor at a time however large
 * the file: the header is written first from the declared names, dtypes and shapes (same layout
 * as {@link SafetensorsWriter}: keys sorted, header padded to 8, data in key order), then each
 * tensor's bytes go to their precomputed offset, in any order. {@link #finish} checks every
 * tensor was written, forces the file to disk and renames it from NAME.tmp, so a reader never
 * sees a half-written file. It does not convert dtypes; callers hand over the final bytes.
 */
public final class StreamingSafetensorsWriter implements AutoCloseable {
    /** A tensor to be written: name, dtype and shape (its byte size follows). */
    public record Spec(String name, DType dtype, long[] shape) {
        public long bytes() {
            return Math.multiplyExact(TensorData.numel(shape), dtype.size());
        }
    }

    private static final ObjectMapper JSON = new ObjectMapper();

    private final Path path;
    private final Path tmp;
    private final FileChannel ch;
    private final Map<String, long[]> ranges = new TreeMap<>(); // name -> absolute [begin, end)
    private final Map<String, Spec> specs = new TreeMap<>();
    private final Set<String> written = new HashSet<>();
    private boolean finished;

    public StreamingSafetensorsWriter(Path path, List<Spec> tensors, Map<String, String> metadata) throws IOException {
        this.path = path;
        this.tmp = path.resolveSibling(path.getFileName() + ".tmp");
        for (Spec s : tensors) {
            if (specs.put(s.name(), s) != null) {
                throw new IllegalArgumentException("duplicate tensor name " + s.name());
            }
        }
        ObjectNode header = JSON.createObjectNode();
        if (metadata != null && !metadata.isEmpty()) {
            ObjectNode m = header.putObject("__metadata__");
            new TreeMap<>(metadata).forEach(m::put);
        }
        long off = 0;
        for (Spec s : specs.values()) {
            ObjectNode e = header.putObject(s.name());
            e.put("dtype", s.dtype().safetensorsName());
            var sh = e.putArray("shape");
            for (long d : s.shape()) {
                sh.add(d);
            }
            var o = e.putArray("data_offsets");
            o.add(off);
            ranges.put(s.name(), new long[] {off, off + s.bytes()});
            off += s.bytes();
            o.add(off);
        }
        byte[] h = JSON.writeValueAsString(header).getBytes(StandardCharsets.UTF_8);
        int padded = (h.length + 7) / 8 * 8;
        byte[] hp = Arrays.copyOf(h, padded);
        Arrays.fill(hp, h.length, padded, (byte) ' ');
        long dataStart = 8 + padded;
        for (long[] r : ranges.values()) {
            r[0] += dataStart;
            r[1] += dataStart;
        }
        ch = FileChannel.open(
                tmp, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE);
        ByteBuffer head = ByteBuffer.allocate(8 + padded)
                .order(ByteOrder.LITTLE_ENDIAN)
                .putLong(padded)
                .put(hp)
                .flip();
        writeFully(head, 0);
    }

    /** Writes one declared tensor's bytes (exactly its size; little-endian, row-major). */
    public void write(String name, ByteBuffer data) throws IOException {
        long[] r = ranges.get(name);
        if (r == null) {
            throw new IllegalArgumentException("tensor " + name + " was not declared");
        }
        if (data.remaining() != r[1] - r[0]) {
            throw new IllegalArgumentException(name + ": " + data.remaining() + " bytes, declared " + (r[1] - r[0]));
        }
        if (!written.add(name)) {
            throw new IllegalArgumentException("tensor " + name + " written twice");
        }
        writeFully(data, r[0]);
    }

    /** As {@link #write(String, ByteBuffer)} for a heap array. */
    public void write(String name, byte[] data) throws IOException {
        write(name, ByteBuffer.wrap(data));
    }

    private void writeFully(ByteBuffer b, long pos) throws IOException {
        while (b.hasRemaining()) {
            pos += ch.write(b, pos);
        }
    }

    /** Total bytes of the file once finished. */
    public long fileSize() {
        long end = 0;
        for (long[] r : ranges.values()) {
            end = Math.max(end, r[1]);
        }
        return end;
    }

    /** Checks completeness, forces to disk, renames into place. */
    public void finish() throws IOException {
        if (written.size() != specs.size()) {
            Set<String> missing = new TreeMap<>(specs).keySet();
            missing.removeAll(written);
            throw new IllegalStateException(path + ": tensors never written: " + missing);
        }
        ch.force(true);
        ch.close();
        Files.move(tmp, path, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        finished = true;
    }

    /** Without {@link #finish}: closes and deletes the temporary file. */
    @Override
    public void close() throws IOException {
        if (!finished) {
            ch.close();
            Files.deleteIfExists(tmp);
        }
    }
}
