package bitnet.io.torch;

import bitnet.io.BadInputException;
import bitnet.io.DType;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A restricted unpickler for the data.pkl of a torch.save state dict. It interprets only the
 * opcodes such a pickle uses and resolves only a fixed list of globals (OrderedDict, the two
 * tensor rebuild functions, the typed storage classes, dtypes); any other global is refused
 * before anything is built. Nothing is ever executed: REDUCE on an allowed callable builds a
 * plain data record ({@link TensorRef}, a map). All sizes read from the stream are bounded.
 * It is not a general pickle reader (no classes, no NEWOBJ, no text-protocol opcodes).
 */
final class Unpickler {
    /** A typed storage named by a persistent id: entry data/&lt;key&gt; of the archive, numel elements of dtype. */
    record StorageRef(String key, DType dtype, long numel) {}

    /** A tensor view: element offset, sizes and strides (in elements) into a storage. */
    record TensorRef(StorageRef storage, long offset, long[] size, long[] stride) {}

    /** An immutable Python tuple. */
    record Tuple(List<Object> items) {
        int size() {
            return items.size();
        }

        Object get(int i) {
            return items.get(i);
        }
    }

    /** One of the allowed globals. */
    private enum Callable {
        ORDERED_DICT,
        REBUILD_TENSOR_V2,
        REBUILD_PARAMETER
    }

    private record StorageType(String name, DType dtype) {}

    private record TorchDType(String name, DType dtype) {}

    private static final Object MARK = new Object();
    static final int MAX_STRING = 16 << 20;
    static final int MAX_MEMO = 1 << 22;
    static final int MAX_STACK = 1 << 22;
    static final int MAX_RANK = 64;

    private static final Map<String, Object> ALLOWED = new HashMap<>();

    static {
        ALLOWED.put("collections.OrderedDict", Callable.ORDERED_DICT);
        ALLOWED.put("torch._utils._rebuild_tensor_v2", Callable.REBUILD_TENSOR_V2);
        ALLOWED.put("torch._utils._rebuild_parameter", Callable.REBUILD_PARAMETER);
        Object[][] storages = {
            {"Float", DType.F32},
            {"Half", DType.F16},
            {"BFloat16", DType.BF16},
            {"Double", DType.F64},
            {"Long", DType.I64},
            {"Int", DType.I32},
            {"Short", DType.I16},
            {"Char", DType.I8},
            {"Byte", DType.U8},
            {"Bool", DType.BOOL}
        };
        for (Object[] s : storages) {
            String n = s[0] + "Storage";
            ALLOWED.put("torch." + n, new StorageType(n, (DType) s[1]));
        }
        Object[][] dtypes = {
            {"float32", DType.F32},
            {"float", DType.F32},
            {"float16", DType.F16},
            {"half", DType.F16},
            {"bfloat16", DType.BF16},
            {"float64", DType.F64},
            {"double", DType.F64},
            {"int64", DType.I64},
            {"long", DType.I64},
            {"int32", DType.I32},
            {"int", DType.I32},
            {"int16", DType.I16},
            {"short", DType.I16},
            {"int8", DType.I8},
            {"uint8", DType.U8},
            {"bool", DType.BOOL}
        };
        for (Object[] d : dtypes) {
            ALLOWED.put("torch." + d[0], new TorchDType((String) d[0], (DType) d[1]));
        }
    }

    private static final ValueLayout.OfShort LE_U16 =
            ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt LE_I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong LE_I64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfDouble BE_F64 =
            ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);

    private final Path path;
    private final String what;
    private final MemorySegment in;
    private long pos;
    private final ArrayList<Object> stack = new ArrayList<>();
    private final HashMap<Long, Object> memo = new HashMap<>();

    private Unpickler(Path path, String what, MemorySegment in) {
        this.path = path;
        this.what = what;
        this.in = in;
    }

    /** Reads one pickled object; {@code what} names the archive entry in messages. */
    static Object load(Path path, String what, MemorySegment pickle) {
        return new Unpickler(path, what, pickle).run();
    }

    private BadInputException bad(String problem) {
        return new BadInputException(path, what + ": " + problem);
    }

    private Object run() {
        while (true) {
            long at = pos;
            int op = u8();
            switch (op) {
                case 0x80 -> { // PROTO
                    int v = u8();
                    if (v < 2 || v > 5) {
                        throw bad("unsupported pickle protocol " + v);
                    }
                }
                case 0x95 -> { // FRAME: framing is only a read-ahead hint
                    long n = i64();
                    if (n < 0 || n > in.byteSize() - pos) {
                        throw bad("frame of " + n + " bytes runs past the end of the pickle");
                    }
                }
                case '.' -> { // STOP
                    if (stack.size() != 1) {
                        throw bad("pickle ends with " + stack.size() + " objects on the stack, expected 1");
                    }
                    return checkNotMark(stack.getFirst());
                }
                case '(' -> push(MARK);
                case '}' -> push(new LinkedHashMap<Object, Object>());
                case ']' -> push(new ArrayList<Object>());
                case ')' -> push(new Tuple(List.of()));
                case 'N' -> push(null);
                case 0x88 -> push(Boolean.TRUE);
                case 0x89 -> push(Boolean.FALSE);
                case 'J' -> push((long) in.get(LE_I32, need(4)));
                case 'K' -> push((long) u8());
                case 'M' -> push((long) (in.get(LE_U16, need(2)) & 0xffff));
                case 0x8a -> push(long1());
                case 'G' -> push(in.get(BE_F64, need(8)));
                case 'X' -> push(string(u32()));
                case 0x8c -> push(string(u8()));
                case 0x8d -> push(string(i64()));
                case 'U', 'C' -> push(bytes(u8())); // SHORT_BINSTRING, SHORT_BINBYTES
                case 'T', 'B' -> push(bytes(u32())); // BINSTRING, BINBYTES
                case 0x8e -> push(bytes(i64())); // BINBYTES8
                case 'q' -> memoPut(u8());
                case 'r' -> memoPut(u32());
                case 0x94 -> memoPut(memo.size());
                case 'h' -> push(memoGet(u8()));
                case 'j' -> push(memoGet(u32()));
                case '0' -> pop();
                case '2' -> push(checkNotMark(peek()));
                case '1' -> popMark();
                case 'c' -> push(global(line(), line()));
                case 0x93 -> { // STACK_GLOBAL
                    Object name = pop();
                    Object module = pop();
                    if (!(module instanceof String m) || !(name instanceof String n)) {
                        throw bad("STACK_GLOBAL needs two strings");
                    }
                    push(global(m, n));
                }
                case 'Q' -> push(persistentLoad(pop()));
                case 't' -> push(new Tuple(popMark()));
                case 0x85 -> push(tupleOf(1));
                case 0x86 -> push(tupleOf(2));
                case 0x87 -> push(tupleOf(3));
                case 'l' -> push(new ArrayList<>(popMark()));
                case 'd' -> {
                    List<Object> items = popMark();
                    Map<Object, Object> m = new LinkedHashMap<>();
                    putPairs(m, items);
                    push(m);
                }
                case 's' -> {
                    Object v = pop();
                    Object k = pop();
                    putPairs(asMap(peek()), Arrays.asList(k, v));
                }
                case 'u' -> {
                    List<Object> items = popMark();
                    putPairs(asMap(peek()), items);
                }
                case 'a' -> {
                    Object v = pop();
                    asList(peek()).add(v);
                }
                case 'e' -> {
                    List<Object> items = popMark();
                    asList(peek()).addAll(items);
                }
                case 'R' -> {
                    Object args = pop();
                    Object fn = pop();
                    push(reduce(fn, args));
                }
                case 'b' -> { // BUILD: only an OrderedDict's attribute state (e.g. _metadata), which is dropped
                    Object state = pop();
                    checkNotMark(state);
                    if (!(peek() instanceof Map)) {
                        throw bad("BUILD on a " + kind(peek()) + " is not supported");
                    }
                }
                default -> throw bad(String.format("unsupported pickle opcode 0x%02x at offset %d", op, at));
            }
        }
    }

    private Object reduce(Object fn, Object args) {
        if (!(args instanceof Tuple t)) {
            throw bad("REDUCE arguments are a " + kind(args) + ", not a tuple");
        }
        if (!(fn instanceof Callable c)) {
            throw bad("REDUCE on a " + kind(fn) + ", which is not callable here");
        }
        return switch (c) {
            case ORDERED_DICT -> {
                if (t.size() != 0) {
                    throw bad("OrderedDict with constructor arguments is not supported");
                }
                yield new LinkedHashMap<Object, Object>();
            }
            case REBUILD_TENSOR_V2 -> {
                // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
                if (t.size() < 6 || t.size() > 7 || !(t.get(0) instanceof StorageRef s)) {
                    throw bad("_rebuild_tensor_v2 needs (storage, offset, size, stride, requires_grad, hooks)");
                }
                long offset = nonNegative(t.get(1), "storage offset");
                long[] size = dims(t.get(2), "size");
                long[] stride = dims(t.get(3), "stride");
                if (size.length != stride.length) {
                    throw bad("tensor size has " + size.length + " dims but stride has " + stride.length);
                }
                yield new TensorRef(s, offset, size, stride);
            }
            case REBUILD_PARAMETER -> {
                if (t.size() != 3 || !(t.get(0) instanceof TensorRef r)) {
                    throw bad("_rebuild_parameter needs (tensor, requires_grad, hooks)");
                }
                yield r;
            }
        };
    }

    private Object persistentLoad(Object pid) {
        // ('storage', storage_type, key, location, numel)
        if (!(pid instanceof Tuple t) || t.size() != 5 || !"storage".equals(t.get(0))) {
            throw bad("persistent id is not ('storage', type, key, location, numel)");
        }
        if (!(t.get(1) instanceof StorageType st)) {
            throw bad("persistent id names a " + kind(t.get(1)) + " instead of a storage type");
        }
        if (!(t.get(2) instanceof String key)
                || key.isEmpty()
                || key.length() > 64
                || key.contains("/")
                || key.contains("\\")
                || key.equals(".")
                || key.equals("..")) {
            throw bad("persistent id has a bad storage key");
        }
        if (!(t.get(3) instanceof String)) {
            throw bad("persistent id has a bad location");
        }
        return new StorageRef(key, st.dtype(), nonNegative(t.get(4), "storage numel"));
    }

    private Object global(String module, String name) {
        String full = module + "." + name;
        Object g = ALLOWED.get(full);
        if (g == null) {
            String shown = full.length() > 200 ? full.substring(0, 200) + "..." : full;
            throw bad("pickle names a forbidden global '" + shown + "'; only tensor checkpoints are read");
        }
        return g;
    }

    private void putPairs(Map<Object, Object> m, List<Object> items) {
        if (items.size() % 2 != 0) {
            throw bad("odd number of items for a dict");
        }
        for (int i = 0; i < items.size(); i += 2) {
            Object k = items.get(i);
            // Only scalar keys: hashing a container could recurse forever on a self-referencing one.
            if (!(k == null
                    || k instanceof String
                    || k instanceof Long
                    || k instanceof Boolean
                    || k instanceof Double)) {
                throw bad("dict key of type " + kind(k) + " is not supported");
            }
            m.put(k, checkNotMark(items.get(i + 1)));
        }
    }

    private long[] dims(Object o, String what) {
        if (!(o instanceof Tuple t) || t.size() > MAX_RANK) {
            throw bad("tensor " + what + " is not a tuple of at most " + MAX_RANK + " integers");
        }
        long[] d = new long[t.size()];
        for (int i = 0; i < d.length; i++) {
            d[i] = nonNegative(t.get(i), "tensor " + what);
        }
        return d;
    }

    private long nonNegative(Object o, String what) {
        if (!(o instanceof Long v) || v < 0) {
            throw bad(what + " is not a non-negative integer");
        }
        return v;
    }

    @SuppressWarnings("unchecked")
    private Map<Object, Object> asMap(Object o) {
        if (o instanceof Map) {
            return (Map<Object, Object>) o;
        }
        throw bad("SETITEM(S) on a " + kind(o));
    }

    @SuppressWarnings("unchecked")
    private List<Object> asList(Object o) {
        if (o instanceof ArrayList) {
            return (List<Object>) o;
        }
        throw bad("APPEND(S) on a " + kind(o));
    }

    private Tuple tupleOf(int n) {
        Object[] items = new Object[n];
        for (int i = n - 1; i >= 0; i--) {
            items[i] = checkNotMark(pop());
        }
        return new Tuple(Arrays.asList(items));
    }

    private void memoPut(long idx) {
        if (memo.size() >= MAX_MEMO && !memo.containsKey(idx)) {
            throw bad("memo exceeds " + MAX_MEMO + " entries");
        }
        memo.put(idx, checkNotMark(peek()));
    }

    private Object memoGet(long idx) {
        if (!memo.containsKey(idx)) {
            throw bad("memo index " + idx + " was never stored");
        }
        return memo.get(idx);
    }

    private void push(Object o) {
        if (stack.size() >= MAX_STACK) {
            throw bad("stack exceeds " + MAX_STACK + " entries");
        }
        stack.add(o);
    }

    private Object pop() {
        if (stack.isEmpty()) {
            throw bad("stack underflow at offset " + pos);
        }
        return stack.removeLast();
    }

    private Object peek() {
        if (stack.isEmpty()) {
            throw bad("stack underflow at offset " + pos);
        }
        return stack.getLast();
    }

    /** Pops everything above the topmost MARK (and the MARK). */
    private List<Object> popMark() {
        int i = stack.size() - 1;
        while (i >= 0 && stack.get(i) != MARK) {
            i--;
        }
        if (i < 0) {
            throw bad("no MARK on the stack at offset " + pos);
        }
        List<Object> items = new ArrayList<>(stack.subList(i + 1, stack.size()));
        stack.subList(i, stack.size()).clear();
        return items;
    }

    private Object checkNotMark(Object o) {
        if (o == MARK) {
            throw bad("MARK used as a value at offset " + pos);
        }
        return o;
    }

    private long need(long n) {
        if (n < 0 || n > in.byteSize() - pos) {
            throw bad("pickle is truncated at offset " + pos + " (needs " + n + " more bytes)");
        }
        long at = pos;
        pos += n;
        return at;
    }

    private int u8() {
        return in.get(ValueLayout.JAVA_BYTE, need(1)) & 0xff;
    }

    private long u32() {
        return in.get(LE_I32, need(4)) & 0xffffffffL;
    }

    private long i64() {
        return in.get(LE_I64, need(8));
    }

    private long long1() {
        int n = u8();
        if (n > 8) {
            throw bad("integer of " + n + " bytes is too large");
        }
        long at = need(n);
        long v = 0;
        for (int i = 0; i < n; i++) {
            v |= (long) (in.get(ValueLayout.JAVA_BYTE, at + i) & 0xff) << (8 * i);
        }
        if (n > 0 && n < 8 && (in.get(ValueLayout.JAVA_BYTE, at + n - 1) & 0x80) != 0) {
            v |= -1L << (8 * n); // sign-extend two's complement
        }
        return v;
    }

    private byte[] bytes(long n) {
        if (n < 0 || n > MAX_STRING) {
            throw bad("string or bytes of " + n + " bytes exceeds the limit of " + MAX_STRING);
        }
        return in.asSlice(need(n), n).toArray(ValueLayout.JAVA_BYTE);
    }

    private String string(long n) {
        byte[] b = bytes(n);
        try {
            return StandardCharsets.UTF_8
                    .newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .decode(java.nio.ByteBuffer.wrap(b))
                    .toString();
        } catch (CharacterCodingException e) {
            throw bad("string at offset " + (pos - n) + " is not valid UTF-8");
        }
    }

    /** A newline-terminated ASCII line (GLOBAL's module and name), at most 256 bytes. */
    private String line() {
        StringBuilder sb = new StringBuilder();
        while (true) {
            int c = u8();
            if (c == '\n') {
                return sb.toString();
            }
            if (sb.length() >= 256 || c < 0x20 || c > 0x7e) {
                throw bad("bad GLOBAL name at offset " + pos);
            }
            sb.append((char) c);
        }
    }

    private static String kind(Object o) {
        if (o == null) {
            return "None";
        }
        if (o == MARK) {
            return "MARK";
        }
        if (o instanceof Callable || o instanceof StorageType || o instanceof TorchDType) {
            return "global " + o;
        }
        return o.getClass().getSimpleName();
    }
}
