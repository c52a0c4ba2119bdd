package bitnet.io.torch;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.CRC32;
import java.util.zip.Deflater;

/**
 * Test support: writes zip archives byte by byte, independently of the reader under test, with
 * knobs a hostile file would turn (declared sizes, deflated entries, zip64 records). Data of
 * stored entries is 64-byte aligned through an extra field, as torch.save does.
 */
public final class ZipBuilder {
    private record E(String name, byte[] payload, int method, long declaredSize, long crc) {}

    private final List<E> entries = new ArrayList<>();
    private boolean zip64;

    public ZipBuilder zip64(boolean on) {
        zip64 = on;
        return this;
    }

    public ZipBuilder stored(String name, byte[] data) {
        entries.add(new E(name, data, 0, data.length, crc(data)));
        return this;
    }

    /** A deflated entry that claims declaredSize uncompressed bytes (a liar when it differs from data.length). */
    public ZipBuilder deflated(String name, byte[] data, long declaredSize) {
        Deflater d = new Deflater(Deflater.BEST_SPEED, true);
        d.setInput(data);
        d.finish();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        byte[] buf = new byte[1 << 16];
        while (!d.finished()) {
            out.write(buf, 0, d.deflate(buf));
        }
        d.end();
        entries.add(new E(name, out.toByteArray(), 8, declaredSize, crc(data)));
        return this;
    }

    public byte[] build() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        long[] offsets = new long[entries.size()];
        for (int i = 0; i < entries.size(); i++) {
            E e = entries.get(i);
            byte[] name = e.name.getBytes(StandardCharsets.UTF_8);
            offsets[i] = out.size();
            int start = out.size() + 30 + name.length + 4;
            int pad = (64 - start % 64) % 64;
            ByteBuffer b = le(30);
            b.putInt(0x04034b50)
                    .putShort((short) 20)
                    .putShort((short) 0)
                    .putShort((short) e.method)
                    .putShort((short) 0)
                    .putShort((short) 0)
                    .putInt((int) e.crc)
                    .putInt((int) e.payload.length)
                    .putInt((int) Math.min(e.declaredSize, 0xffffffffL))
                    .putShort((short) name.length)
                    .putShort((short) (4 + pad));
            out.writeBytes(b.array());
            out.writeBytes(name);
            out.writeBytes(le(4).putShort((short) 0x4246).putShort((short) pad).array()); // 'FB' padding, as torch
            out.writeBytes(new byte[pad]);
            out.writeBytes(e.payload);
        }
        long cdOffset = out.size();
        for (int i = 0; i < entries.size(); i++) {
            E e = entries.get(i);
            byte[] name = e.name.getBytes(StandardCharsets.UTF_8);
            ByteBuffer b = le(46);
            b.putInt(0x02014b50)
                    .putShort((short) 45)
                    .putShort((short) 20)
                    .putShort((short) 0)
                    .putShort((short) e.method)
                    .putShort((short) 0)
                    .putShort((short) 0)
                    .putInt((int) e.crc);
            if (zip64 || e.declaredSize >= 0xffffffffL) {
                b.putInt(-1)
                        .putInt(-1)
                        .putShort((short) name.length)
                        .putShort((short) 28)
                        .putShort((short) 0)
                        .putShort((short) 0)
                        .putShort((short) 0)
                        .putInt(0)
                        .putInt(-1);
                out.writeBytes(b.array());
                out.writeBytes(name);
                out.writeBytes(le(28).putShort((short) 1)
                        .putShort((short) 24)
                        .putLong(e.declaredSize)
                        .putLong(e.payload.length)
                        .putLong(offsets[i])
                        .array());
            } else {
                b.putInt(e.payload.length)
                        .putInt((int) e.declaredSize)
                        .putShort((short) name.length)
                        .putShort((short) 0)
                        .putShort((short) 0)
                        .putShort((short) 0)
                        .putShort((short) 0)
                        .putInt(0)
                        .putInt((int) offsets[i]);
                out.writeBytes(b.array());
                out.writeBytes(name);
            }
        }
        long cdSize = out.size() - cdOffset;
        if (zip64) {
            long rec = out.size();
            out.writeBytes(le(56).putInt(0x06064b50)
                    .putLong(44)
                    .putShort((short) 45)
                    .putShort((short) 45)
                    .putInt(0)
                    .putInt(0)
                    .putLong(entries.size())
                    .putLong(entries.size())
                    .putLong(cdSize)
                    .putLong(cdOffset)
                    .array());
            out.writeBytes(
                    le(20).putInt(0x07064b50).putInt(0).putLong(rec).putInt(1).array());
            out.writeBytes(le(22).putInt(0x06054b50)
                    .putShort((short) 0)
                    .putShort((short) 0)
                    .putShort((short) -1)
                    .putShort((short) -1)
                    .putInt(-1)
                    .putInt(-1)
                    .putShort((short) 0)
                    .array());
        } else {
            out.writeBytes(le(22).putInt(0x06054b50)
                    .putShort((short) 0)
                    .putShort((short) 0)
                    .putShort((short) entries.size())
                    .putShort((short) entries.size())
                    .putInt((int) cdSize)
                    .putInt((int) cdOffset)
                    .putShort((short) 0)
                    .array());
        }
        return out.toByteArray();
    }

    private static ByteBuffer le(int n) {
        return ByteBuffer.allocate(n).order(ByteOrder.LITTLE_ENDIAN);
    }

    private static long crc(byte[] d) {
        CRC32 c = new CRC32();
        c.update(d);
        return c.getValue();
    }
}
