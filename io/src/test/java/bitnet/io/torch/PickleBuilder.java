package bitnet.io.torch;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * Test support: emits pickle opcodes by hand (protocol 2 as torch.save writes it), so hostile
 * pickles can be built without Python. Opcode bytes follow CPython's pickle.py.
 */
public final class PickleBuilder {
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private int memo;

    public PickleBuilder op(int... bytes) {
        for (int b : bytes) {
            out.write(b);
        }
        return this;
    }

    public PickleBuilder proto(int v) {
        return op(0x80, v);
    }

    public PickleBuilder str(String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        op('X');
        out.writeBytes(ByteBuffer.allocate(4)
                .order(ByteOrder.LITTLE_ENDIAN)
                .putInt(b.length)
                .array());
        out.writeBytes(b);
        return put();
    }

    public PickleBuilder global(String module, String name) {
        op('c');
        out.writeBytes((module + "\n" + name + "\n").getBytes(StandardCharsets.US_ASCII));
        return put();
    }

    public PickleBuilder stackGlobal(String module, String name) {
        op(0x8c, module.length());
        out.writeBytes(module.getBytes(StandardCharsets.US_ASCII));
        op(0x8c, name.length());
        out.writeBytes(name.getBytes(StandardCharsets.US_ASCII));
        return op(0x93);
    }

    public PickleBuilder integer(long v) {
        if (v >= 0 && v < 256) {
            return op('K', (int) v);
        }
        if (v == (int) v) {
            op('J');
            out.writeBytes(ByteBuffer.allocate(4)
                    .order(ByteOrder.LITTLE_ENDIAN)
                    .putInt((int) v)
                    .array());
            return this;
        }
        op(0x8a, 8); // LONG1, two's complement little-endian
        out.writeBytes(
                ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(v).array());
        return this;
    }

    /** A tuple of integers (sizes, strides). */
    public PickleBuilder ints(long... v) {
        op('(');
        for (long x : v) {
            integer(x);
        }
        return op('t');
    }

    /** BINPUT of the top of stack into the next memo slot, as torch's pickler does after most objects. */
    public PickleBuilder put() {
        return op('q', memo++ & 0xff);
    }

    public int lastMemo() {
        return memo - 1;
    }

    /**
     * One state-dict entry: name -> _rebuild_tensor_v2(storage(type, key, numel), offset, size, stride,
     * False, OrderedDict()). Call between MARK and SETITEMS of the dict.
     */
    public PickleBuilder tensor(
            String name, String storageType, String key, long numel, long offset, long[] size, long[] stride) {
        str(name);
        global("torch._utils", "_rebuild_tensor_v2");
        op('(');
        op('(');
        str("storage");
        global("torch", storageType);
        str(key);
        str("cpu");
        integer(numel);
        op('t');
        op('Q');
        integer(offset);
        ints(size);
        ints(stride);
        op(0x89);
        global("collections", "OrderedDict");
        op(')', 'R');
        op('t', 'R');
        return this;
    }

    public byte[] bytes() {
        return out.toByteArray();
    }
}
