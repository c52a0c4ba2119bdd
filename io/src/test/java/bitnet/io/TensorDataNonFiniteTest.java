package bitnet.io;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** countNonFinite (exponent bits, 8 bytes at a time) against Float.isFinite of every element read as FP32. */
class TensorDataNonFiniteTest {
    private static long slow(TensorData t) {
        long c = 0;
        for (long i = 0; i < t.numel(); i++) {
            c += Float.isFinite(t.getFloat(i)) ? 0 : 1;
        }
        return c;
    }

    /** n random bit patterns of dtype (every exponent, both signs) with NaN, +Inf and -Inf planted at random places. */
    private static TensorData random(DType dtype, int n, long seed) {
        Random r = new Random(seed);
        ByteBuffer b = ByteBuffer.allocate(n * dtype.size()).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < n; i++) {
            int pick = r.nextInt(10);
            switch (dtype) {
                case F32 ->
                    b.putFloat(
                            pick == 0
                                    ? Float.NaN
                                    : pick == 1
                                            ? Float.POSITIVE_INFINITY
                                            : pick == 2 ? Float.NEGATIVE_INFINITY : Float.intBitsToFloat(r.nextInt()));
                case BF16 ->
                    b.putShort((short) (pick == 0 ? 0x7FC1 : pick == 1 ? 0x7F80 : pick == 2 ? 0xFF80 : r.nextInt()));
                case F16 ->
                    b.putShort((short) (pick == 0 ? 0x7E01 : pick == 1 ? 0x7C00 : pick == 2 ? 0xFC00 : r.nextInt()));
                case F64 ->
                    b.putDouble(pick == 0 ? Double.NaN : pick == 1 ? 1e300 : pick == 2 ? -1e39 : r.nextGaussian());
                default -> throw new IllegalArgumentException();
            }
        }
        return new TensorData("t", dtype, new long[] {n}, MemorySegment.ofArray(b.array()));
    }

    @Test
    void countsWhatFloatIsFiniteCountsForEveryFloatDtypeAndLength() {
        int cases = 0;
        for (DType d : new DType[] {DType.F32, DType.BF16, DType.F16, DType.F64}) {
            for (int n : new int[] {0, 1, 3, 4, 5, 7, 8, 9, 1000, 4099, 40_001}) { // 40,001: several chunks of words
                TensorData t = random(d, n, 31L * n + d.ordinal());
                long expect = slow(t);
                assertEquals(expect, t.countNonFinite(), d + " n=" + n);
                cases += n >= 1000 && expect > 100 ? 1 : 0;
            }
        }
        assertEquals(12, cases, "the planted NaN/Inf values (~30%) were counted in every long tensor");
    }

    @Test
    void integerTensorsHaveNoNonFiniteValues() {
        TensorData t = new TensorData(
                "i", DType.I32, new long[] {2}, MemorySegment.ofArray(new byte[] {-1, -1, -128, 127, 0, 0, -128, 127}));
        assertEquals(0, t.countNonFinite());
    }
}
