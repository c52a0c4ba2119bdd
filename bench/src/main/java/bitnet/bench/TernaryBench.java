package bitnet.bench;

import bitnet.io.Packing;
import bitnet.io.TernaryPacking;
import bitnet.kernels.cpu.Parallel;
import bitnet.kernels.ternary.TernaryScalar;
import bitnet.kernels.ternary.TernaryWeight;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Packed 2-bit ternary matrix-vector product vs an FP32 one on the same 4096 x 4096 matrix
 * (W = scale_row * q), single-threaded and on a {@link Parallel} pool of -Dbench.threads (2), plus a plain copy of as many bytes
 * as the packed matrix holds (the bandwidth yardstick); the ternary product runs with FP32
 * activations and as W1.58A8 (int8 activations, int16/int32 sums). Report: packed GB/s = 4 MiB / time.
 * Setup checks both products against the scalar twin before anything is timed.
 *
 * <p>Run: {@code java --add-modules jdk.incubator.vector -jar bench/target/benchmarks.jar TernaryBench}.
 * On a machine shared with other jobs JMH's means are noisy; {@link #main} prints the best of
 * many timed calls instead ({@code java --add-modules jdk.incubator.vector -cp bench/target/benchmarks.jar bitnet.bench.TernaryBench}).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 4, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(
        value = 1,
        jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
public class TernaryBench {
    static final int OC = 4096, C = 4096;
    private static final VectorSpecies<Float> FS = FloatVector.SPECIES_PREFERRED;

    /** The pool of the "Parallel" variants: -Dbench.threads (default 2), like the CPU backend's. */
    private final Parallel pool = new Parallel(Integer.getInteger("bench.threads", 2));

    private Arena arena;
    private TernaryWeight ternary; // parallel
    private TernaryWeight ternarySingle; // calling thread only
    private TernaryWeight a8, a8Single; // W1.58A8: int8 activations, integer sums
    private float[] dense; // (OC, C) FP32, the same matrix
    private float[] x; // (C)
    private float[] out; // (OC)
    private MemorySegment copySrc, copyDst;

    @Setup(Level.Trial)
    public void setup() {
        Random r = new Random(42);
        byte[] q = new byte[OC * C];
        for (int i = 0; i < q.length; i++) {
            q[i] = (byte) (r.nextInt(3) - 1);
        }
        float[] scales = new float[OC];
        for (int i = 0; i < OC; i++) {
            scales[i] = 0.01f + r.nextFloat() * 0.05f;
        }
        byte[] packed = TernaryPacking.pack2bit(q, OC, C);
        arena = Arena.ofShared();
        MemorySegment seg = arena.allocate(packed.length, 64);
        MemorySegment.copy(MemorySegment.ofArray(packed), 0, seg, 0, packed.length);
        ternary = new TernaryWeight(Packing.TWO_BIT, seg, scales, OC, C);
        ternarySingle = ternary.withParallel(false);
        a8 = ternary.withA8(true);
        a8Single = ternarySingle.withA8(true);
        dense = new float[OC * C];
        for (int i = 0; i < dense.length; i++) {
            dense[i] = scales[i / C] * q[i];
        }
        x = new float[C];
        for (int i = 0; i < C; i++) {
            x[i] = (float) r.nextGaussian();
        }
        out = new float[OC];
        copySrc = arena.allocate(packed.length, 64);
        copyDst = arena.allocate(packed.length, 64);
        MemorySegment.copy(seg, 0, copySrc, 0, packed.length);

        // agreement before timing: ternary (both) and FP32 vs the scalar twin
        float[] ref = new float[OC];
        TernaryScalar.matmul(ternary, ref, x, null, 1, C, OC);
        check("ternary", ref, run(ternary));
        check("ternary single", ref, run(ternarySingle));
        float[] refA8 = new float[OC];
        TernaryScalar.matmulA8(ternary, refA8, x, null, 1, C, OC);
        check("a8", refA8, run(a8));
        check("a8 single", refA8, run(a8Single));
        float[] f = new float[OC];
        fp32Matvec(f, dense, x, 0, OC);
        check("fp32", ref, f);
    }

    private float[] run(TernaryWeight w) {
        float[] o = new float[OC];
        w.matmulInto(pool, o, x, null, 1, C, OC);
        return o;
    }

    private static void check(String what, float[] want, float[] got) {
        for (int i = 0; i < want.length; i++) {
            float tol = 1e-3f * (1f + Math.abs(want[i]));
            if (!(Math.abs(want[i] - got[i]) <= tol)) {
                throw new IllegalStateException(
                        what + " disagrees with the scalar twin at row " + i + ": " + got[i] + " vs " + want[i]);
            }
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        arena.close();
        pool.close();
    }

    /** The FP32 yardstick: per row a 4-accumulator FMA dot product. */
    static void fp32Matvec(float[] out, float[] w, float[] x, int r0, int r1) {
        int vl = FS.length();
        for (int r = r0; r < r1; r++) {
            int base = r * C;
            FloatVector a0 = FloatVector.zero(FS),
                    a1 = FloatVector.zero(FS),
                    a2 = FloatVector.zero(FS),
                    a3 = FloatVector.zero(FS);
            int j = 0;
            for (; j + 4 * vl <= C; j += 4 * vl) {
                a0 = FloatVector.fromArray(FS, w, base + j).fma(FloatVector.fromArray(FS, x, j), a0);
                a1 = FloatVector.fromArray(FS, w, base + j + vl).fma(FloatVector.fromArray(FS, x, j + vl), a1);
                a2 = FloatVector.fromArray(FS, w, base + j + 2 * vl).fma(FloatVector.fromArray(FS, x, j + 2 * vl), a2);
                a3 = FloatVector.fromArray(FS, w, base + j + 3 * vl).fma(FloatVector.fromArray(FS, x, j + 3 * vl), a3);
            }
            float s = a0.add(a1).add(a2.add(a3)).reduceLanes(VectorOperators.ADD);
            for (; j < C; j++) {
                s += w[base + j] * x[j];
            }
            out[r] = s;
        }
    }

    @Benchmark
    public float[] ternaryMatvecSingle() {
        ternarySingle.matmulInto(out, x, null, 1, C, OC);
        return out;
    }

    @Benchmark
    public float[] ternaryMatvecParallel() {
        ternary.matmulInto(pool, out, x, null, 1, C, OC);
        return out;
    }

    @Benchmark
    public float[] ternaryA8MatvecSingle() {
        a8Single.matmulInto(out, x, null, 1, C, OC);
        return out;
    }

    @Benchmark
    public float[] ternaryA8MatvecParallel() {
        a8.matmulInto(pool, out, x, null, 1, C, OC);
        return out;
    }

    @Benchmark
    public float[] fp32MatvecSingle() {
        fp32Matvec(out, dense, x, 0, OC);
        return out;
    }

    @Benchmark
    public float[] fp32MatvecParallel() {
        pool.forChunks(OC, 64, (ch, lo, hi) -> fp32Matvec(out, dense, x, lo, hi));
        return out;
    }

    /** Best-of-N timing of every benchmark (after warm-up), with packed GB/s and speed-ups. */
    public static void main(String[] args) {
        TernaryBench b = new TernaryBench();
        b.setup();
        String[] names = {
            "copyPackedSize",
            "fp32MatvecSingle",
            "fp32MatvecParallel",
            "ternaryMatvecSingle",
            "ternaryMatvecParallel",
            "ternaryA8MatvecSingle",
            "ternaryA8MatvecParallel",
            "copyPackedSizeParallel"
        };
        Runnable[] runs = {
            b::copyPackedSize,
            b::fp32MatvecSingle,
            b::fp32MatvecParallel,
            b::ternaryMatvecSingle,
            b::ternaryMatvecParallel,
            b::ternaryA8MatvecSingle,
            b::ternaryA8MatvecParallel,
            b::copyPackedSizeParallel
        };
        int reps = args.length > 0 ? Integer.parseInt(args[0]) : 300;
        double[] best = new double[runs.length];
        for (int round = 0; round < 2; round++) { // round 0 warms the JIT up
            for (int i = 0; i < runs.length; i++) {
                long min = Long.MAX_VALUE;
                for (int r = 0; r < reps; r++) {
                    long t0 = System.nanoTime();
                    runs[i].run();
                    min = Math.min(min, System.nanoTime() - t0);
                }
                best[i] = min / 1e3;
            }
        }
        double packedBytes = (double) OC * C / 4;
        for (int i = 0; i < runs.length; i++) {
            System.out.printf(
                    "%-26s %9.1f us  %6.2f GB/s of packed-size bytes%n",
                    names[i], best[i], packedBytes / best[i] / 1e3);
        }
        System.out.printf(
                "speed-up vs fp32: ternary single %.2fx, parallel %.2fx; A8 single %.2fx, parallel %.2fx%n",
                best[1] / best[3], best[2] / best[4], best[1] / best[5], best[2] / best[6]);
        System.out.printf(
                "fraction of copy bandwidth (same thread count): ternary %.0f%% / %.0f%%, A8 %.0f%% / %.0f%% (single / %d threads)%n",
                100 * best[0] / best[3],
                100 * best[7] / best[4],
                100 * best[0] / best[5],
                100 * best[7] / best[6],
                b.pool.threads());
        b.tearDown();
    }

    /** Copies as many bytes as the packed matrix holds (4 MiB): the bandwidth yardstick. */
    @Benchmark
    public MemorySegment copyPackedSize() {
        MemorySegment.copy(copySrc, 0, copyDst, 0, copySrc.byteSize());
        return copyDst;
    }

    /** The same copy split over the pool's threads. */
    @Benchmark
    public MemorySegment copyPackedSizeParallel() {
        long n = copySrc.byteSize();
        int parts = pool.threads();
        pool.forTasks(parts, p -> {
            long lo = n * p / parts / 64 * 64, hi = p == parts - 1 ? n : n * (p + 1) / parts / 64 * 64;
            MemorySegment.copy(copySrc, lo, copyDst, lo, hi - lo);
        });
        return copyDst;
    }
}
