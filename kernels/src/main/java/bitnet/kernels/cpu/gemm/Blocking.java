package bitnet.kernels.cpu.gemm;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The block sizes of {@link Sgemm}, derived at class-load time from the vector width and the cache
 * sizes of the CPU we run on (Linux sysfs; the defaults below where it cannot be read), so that
 * no constant is tuned for one CPU model. Loop order (Sgemm.gemm / block): B blocks of NC columns,
 * then K blocks of KC, then A blocks of MC rows, then groups of NR-column panels (half the L2), then
 * MR-row strips, then the panels of the group. The rule:
 *
 * <ul>
 *   <li>KC: one A strip (MR x KC floats), which stays in L1 while the panels of a group stream
 *       past it from L2, fills half of the L1 data cache (at most 512: each K block adds a
 *       rounding into C and a pass over C). Until 2026-12-03 a B micro-panel (KC x NR) filled the
 *       L1, a rule from when panels ran outside strips: KC 256 on a 32 KB L1 where this rule gives
 *       512. One Zen 4 core, best ms of 12, two rounds, 256 vs 512: NN 4096x192x8192 154-156 vs
 *       138, NN 4096x192x512 9.5 vs 8.6, NN 2048³ 176-178 vs 163-166, TN 4096x192x8192 150-159 vs
 *       142-145, NT 4096x512x192 9.1-9.4 vs 8.3-8.6, the rest within 3% (NT 4096x192x8192 124-129 vs
 *       128-137); 2 threads, three rounds: NT 4096x192x8192 66-71 vs 64-65, TN 72-82 vs 68-73,
 *       2048³ TN the same. Longer K blocks also read A in longer runs (its packing from memory) and
 *       pass over C half as often.
 *   <li>MC: a packed A block (MC x KC floats), streamed once per panel, fills a quarter of this
 *       core's share of the L3, at most 1024 rows (128 rows, an A block in L2, measured no faster).
 *   <li>NC: the packed B block (KC x NC floats), shared by the threads, a quarter of the L3 share,
 *       at most 4096 columns (each B block repacks A once).
 * </ul>
 *
 * The system properties bitnet.gemm.kc / mc / nc override them, for tuning runs only.
 */
final class Blocking {
    private Blocking() {}

    /** Fallbacks when sysfs is unreadable: the smallest caches of current x86-64 / AArch64 server cores. */
    private static final long L1_DEFAULT = 32 << 10, L2_DEFAULT = 512 << 10, L3_DEFAULT = 4 << 20;

    static final long L1 = cache(1, L1_DEFAULT);
    static final long L2 = cache(2, L2_DEFAULT);
    /** This core's share of the last-level cache. */
    static final long L3 = cache(3, L3_DEFAULT);

    static int kc(int mr) {
        int kc = (int) Math.clamp(L1 / 2 / (4L * mr), 64, 512) & ~7;
        return Integer.getInteger("bitnet.gemm.kc", kc);
    }

    static int nc(int nr, int kc) {
        int nc = (int) Math.clamp(L3 / 4 / (4L * kc), nr, 4096);
        return Math.max(nr, Integer.getInteger("bitnet.gemm.nc", nc) / nr * nr);
    }

    static int mc(int mr, int kc) {
        int mc = (int) Math.clamp(L3 / 4 / (4L * kc), mr, 1024);
        return Math.max(mr, Integer.getInteger("bitnet.gemm.mc", mc) / mr * mr);
    }

    /**
     * The size in bytes of this level's data (or unified) cache of cpu0, divided by the number of
     * CPUs sharing it; the default when sysfs has no answer.
     */
    static long cache(int level, long dflt) {
        Path root = Path.of("/sys/devices/system/cpu/cpu0/cache");
        for (int i = 0; i < 8; i++) {
            Path d = root.resolve("index" + i);
            try {
                if (!Files.isDirectory(d)
                        || Integer.parseInt(Files.readString(d.resolve("level")).trim()) != level
                        || Files.readString(d.resolve("type")).trim().equals("Instruction")) {
                    continue;
                }
                long size = parseSize(Files.readString(d.resolve("size")).trim());
                int sharing = Math.max(
                        1,
                        countCpus(Files.readString(d.resolve("shared_cpu_list")).trim()));
                return size > 0 ? size / sharing : dflt;
            } catch (IOException | RuntimeException e) {
                return dflt;
            }
        }
        return dflt;
    }

    /** "32K", "1024K", "32M" or a plain byte count. */
    static long parseSize(String s) {
        long mult = 1;
        char u = Character.toUpperCase(s.charAt(s.length() - 1));
        if (u == 'K' || u == 'M' || u == 'G') {
            mult = u == 'K' ? 1L << 10 : u == 'M' ? 1L << 20 : 1L << 30;
            s = s.substring(0, s.length() - 1);
        }
        return Long.parseLong(s) * mult;
    }

    /** The number of CPUs in a list such as "0-3,8,10-11". */
    static int countCpus(String list) {
        int n = 0;
        for (String part : list.split(",")) {
            if (part.isEmpty()) {
                continue;
            }
            int dash = part.indexOf('-');
            n += dash < 0
                    ? 1
                    : Integer.parseInt(part.substring(dash + 1)) - Integer.parseInt(part.substring(0, dash)) + 1;
        }
        return n;
    }
}
