package bitnet.io.torch;

import bitnet.io.BadInputException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.zip.DataFormatException;
import java.util.zip.Inflater;

/**
 * A read-only zip archive, memory-mapped, parsed by hand (end of central directory, zip64 records,
 * central directory, local headers) so that STORED entries are zero-copy slices of the mapping.
 * This is what torch.save writes (STORED, 64-byte aligned data). DEFLATED entries can only be read
 * through {@link #readBytes} with a hard size cap; they are never handed out as slices.
 * It is not a general zip library: no encryption, no multi-disk archives, no other compression methods.
 * Every offset and length read from the file is checked against the file size before use.
 */
public final class ZipArchive {
    /** An entry as the central directory describes it; dataOffset is where its (compressed) bytes start. */
    public record Entry(String name, int method, long compressedSize, long size, long dataOffset) {}

    public static final int STORED = 0;
    public static final int DEFLATED = 8;

    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final int EOCD_SIG = 0x06054b50;
    private static final int ZIP64_LOCATOR_SIG = 0x07064b50;
    private static final int ZIP64_EOCD_SIG = 0x06064b50;
    private static final int CEN_SIG = 0x02014b50;
    private static final int LOC_SIG = 0x04034b50;
    private static final int MAX_ENTRIES = 1 << 20;

    private final Path path;
    private final MemorySegment all;
    private final Map<String, Entry> entries;

    private ZipArchive(Path path, MemorySegment all, Map<String, Entry> entries) {
        this.path = path;
        this.all = all;
        this.entries = entries;
    }

    /** Maps and indexes the archive; the mapping lives as long as the arena. */
    public static ZipArchive open(Path path, Arena arena) {
        return parse(path, bitnet.io.MappedFiles.map(path, arena));
    }

    /** Indexes an in-memory archive image (tests, fuzzing). */
    public static ZipArchive parse(Path path, MemorySegment all) {
        long fileSize = all.byteSize();
        if (fileSize < 22) {
            throw new BadInputException(
                    path,
                    "not a zip archive: " + fileSize + " bytes, too short for an end-of-central-directory record");
        }
        long eocd = findEocd(all);
        if (eocd < 0) {
            throw new BadInputException(
                    path,
                    "not a zip archive (no end-of-central-directory record; truncated file, "
                            + "or the legacy pre-1.6 torch.save format, which is not supported)");
        }
        long count = u16(all, eocd + 10);
        long cdSize = u32(all, eocd + 12);
        long cdOffset = u32(all, eocd + 16);
        if (u16(all, eocd + 4) != 0 || u16(all, eocd + 6) != 0) {
            throw new BadInputException(path, "multi-disk zip archives are not supported");
        }
        if (count == 0xffff || cdSize == 0xffffffffL || cdOffset == 0xffffffffL) {
            // zip64: the real values are in the zip64 end record, found through the locator just before.
            long loc = eocd - 20;
            if (loc < 0 || u32i(all, loc) != ZIP64_LOCATOR_SIG) {
                throw new BadInputException(path, "zip64 archive without a zip64 end-of-central-directory locator");
            }
            long rec = all.get(U64, loc + 8);
            if (rec < 0 || rec > loc - 56) {
                throw new BadInputException(
                        path, "zip64 end record offset " + rec + " is outside the file (" + fileSize + " bytes)");
            }
            if (u32i(all, rec) != ZIP64_EOCD_SIG) {
                throw new BadInputException(path, "bad zip64 end-of-central-directory record at offset " + rec);
            }
            count = all.get(U64, rec + 32);
            cdSize = all.get(U64, rec + 40);
            cdOffset = all.get(U64, rec + 48);
        }
        if (cdOffset < 0 || cdSize < 0 || cdOffset > eocd || cdSize > eocd - cdOffset) {
            throw new BadInputException(
                    path,
                    "central directory [offset " + cdOffset + ", size " + cdSize + "] lies outside the file ("
                            + fileSize + " bytes): truncated or corrupt zip");
        }
        if (count < 0 || count > MAX_ENTRIES || count > cdSize / 46) {
            throw new BadInputException(path, "central directory claims " + count + " entries in " + cdSize + " bytes");
        }
        Map<String, Entry> entries = new LinkedHashMap<>();
        long p = cdOffset;
        long cdEnd = cdOffset + cdSize;
        for (long i = 0; i < count; i++) {
            if (p + 46 > cdEnd || u32i(all, p) != CEN_SIG) {
                throw new BadInputException(path, "central directory entry " + i + " at offset " + p + " is corrupt");
            }
            int flags = u16(all, p + 8);
            int method = u16(all, p + 10);
            long csize = u32(all, p + 20);
            long usize = u32(all, p + 24);
            int nameLen = u16(all, p + 28);
            int extraLen = u16(all, p + 30);
            int commentLen = u16(all, p + 32);
            long localOff = u32(all, p + 42);
            if (p + 46 + nameLen + extraLen + commentLen > cdEnd) {
                throw new BadInputException(path, "central directory entry " + i + " runs past the central directory");
            }
            String name =
                    new String(all.asSlice(p + 46, nameLen).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.UTF_8);
            // zip64 extended information: present fields follow the order usize, csize, offset.
            long x = p + 46 + nameLen;
            long xEnd = x + extraLen;
            while (x + 4 <= xEnd) {
                int id = u16(all, x);
                int len = u16(all, x + 2);
                if (x + 4 + len > xEnd) {
                    throw new BadInputException(path, "entry '" + name + "': extra field runs past its header");
                }
                if (id == 0x0001) {
                    long q = x + 4;
                    long qEnd = q + len;
                    if (usize == 0xffffffffL) {
                        usize = need8(path, all, name, q, qEnd);
                        q += 8;
                    }
                    if (csize == 0xffffffffL) {
                        csize = need8(path, all, name, q, qEnd);
                        q += 8;
                    }
                    if (localOff == 0xffffffffL) {
                        localOff = need8(path, all, name, q, qEnd);
                    }
                }
                x += 4 + len;
            }
            if ((flags & 1) != 0) {
                throw new BadInputException(path, "entry '" + name + "' is encrypted");
            }
            if (method != STORED && method != DEFLATED) {
                throw new BadInputException(path, "entry '" + name + "' uses unsupported compression method " + method);
            }
            if (csize < 0 || usize < 0 || localOff < 0 || localOff > cdOffset - 30) {
                throw new BadInputException(
                        path,
                        "entry '" + name + "': local header offset " + localOff + " or sizes are outside the file ("
                                + fileSize + " bytes)");
            }
            if (method == STORED && csize != usize) {
                throw new BadInputException(
                        path, "entry '" + name + "' is stored but its sizes differ (" + csize + " vs " + usize + ")");
            }
            if (u32i(all, localOff) != LOC_SIG) {
                throw new BadInputException(path, "entry '" + name + "': no local header at offset " + localOff);
            }
            int lNameLen = u16(all, localOff + 26);
            int lExtraLen = u16(all, localOff + 28);
            long data = localOff + 30 + lNameLen + lExtraLen;
            if (data > cdOffset || csize > cdOffset - data) {
                throw new BadInputException(
                        path,
                        "entry '" + name + "': data [" + data + ", +" + csize
                                + "] runs past the end of the entries (offset " + cdOffset
                                + "): truncated or corrupt zip");
            }
            if (lNameLen != nameLen
                    || all.asSlice(localOff + 30, nameLen).mismatch(all.asSlice(p + 46, nameLen)) != -1) {
                throw new BadInputException(path, "entry '" + name + "': local header names a different file");
            }
            if (entries.put(name, new Entry(name, method, csize, usize, data)) != null) {
                throw new BadInputException(path, "entry '" + name + "' appears twice");
            }
            p += 46 + nameLen + extraLen + commentLen;
        }
        return new ZipArchive(path, all, Collections.unmodifiableMap(entries));
    }

    public Path path() {
        return path;
    }

    /** Entries in central-directory order. */
    public Map<String, Entry> entries() {
        return entries;
    }

    public Entry entry(String name) {
        Entry e = entries.get(name);
        if (e == null) {
            throw new BadInputException(path, "zip entry '" + name + "' is missing");
        }
        return e;
    }

    /** The bytes of a STORED entry as a slice of the mapping (no copy); DEFLATED entries are refused. */
    public MemorySegment slice(String name) {
        Entry e = entry(name);
        if (e.method() != STORED) {
            throw new BadInputException(
                    path, "entry '" + name + "' is compressed; tensor data must be stored uncompressed");
        }
        return all.asSlice(e.dataOffset(), e.size());
    }

    /**
     * The bytes of an entry on the heap, for small entries (the pickle, version strings). A DEFLATED
     * entry is inflated only up to its declared size, and the declared size must be at most cap, so
     * a zip bomb fails before any large allocation.
     */
    public byte[] readBytes(String name, long cap) {
        Entry e = entry(name);
        if (e.size() > cap) {
            throw new BadInputException(
                    path, "entry '" + name + "' declares " + e.size() + " bytes, more than the limit of " + cap);
        }
        int n = (int) e.size();
        if (e.method() == STORED) {
            return all.asSlice(e.dataOffset(), n).toArray(ValueLayout.JAVA_BYTE);
        }
        byte[] in = all.asSlice(e.dataOffset(), e.compressedSize()).toArray(ValueLayout.JAVA_BYTE);
        Inflater inf = new Inflater(true);
        try {
            inf.setInput(in);
            // Grow the output as data arrives instead of trusting the declared size with one allocation.
            byte[] out = new byte[Math.min(n, 1 << 16)];
            int got = 0;
            while (!inf.finished()) {
                if (got == out.length) {
                    if (got == n) {
                        break;
                    }
                    out = Arrays.copyOf(out, (int) Math.min(n, Math.max(1L << 16, 2L * out.length)));
                }
                long before = inf.getBytesRead();
                int k = inf.inflate(out, got, out.length - got);
                got += k;
                if (k == 0 && inf.getBytesRead() == before && !inf.finished()) {
                    break;
                }
            }
            if (!inf.finished() && inf.inflate(new byte[1]) > 0) {
                throw new BadInputException(
                        path, "entry '" + name + "' inflates past its declared size of " + n + " bytes");
            }
            if (!inf.finished() || got != n) {
                throw new BadInputException(
                        path,
                        "entry '" + name + "': deflate stream is truncated or does not match its declared size " + n
                                + " (got " + got + ")");
            }
            return out;
        } catch (DataFormatException ex) {
            throw new BadInputException(path, "entry '" + name + "': corrupt deflate data: " + ex.getMessage(), ex);
        } finally {
            inf.end();
        }
    }

    private static long findEocd(MemorySegment all) {
        long size = all.byteSize();
        long stop = Math.max(0, size - 22 - 0xffff);
        for (long p = size - 22; p >= stop; p--) {
            if (u32i(all, p) == EOCD_SIG && p + 22 + u16(all, p + 20) == size) {
                return p;
            }
        }
        return -1;
    }

    private static long need8(Path path, MemorySegment all, String name, long q, long end) {
        if (q + 8 > end) {
            throw new BadInputException(path, "entry '" + name + "': zip64 extra field is too short");
        }
        long v = all.get(U64, q);
        if (v < 0) {
            throw new BadInputException(
                    path,
                    "entry '" + name + "': zip64 size or offset " + Long.toUnsignedString(v) + " is out of range");
        }
        return v;
    }

    private static int u16(MemorySegment s, long off) {
        return s.get(U16, off) & 0xffff;
    }

    private static long u32(MemorySegment s, long off) {
        return s.get(U32, off) & 0xffffffffL;
    }

    private static int u32i(MemorySegment s, long off) {
        return s.get(U32, off);
    }
}
