package bitnet.kernels.cpu;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;

import org.junit.jupiter.api.Test;

class WarmupTest {
    /** The warm-up swallows failures at run time, so its calls (shapes, weight kinds) are checked here. */
    @Test
    void everyWarmupCallIsValid() {
        assertDoesNotThrow(() -> Warmup.exercise(2));
    }

    /** The default warm-up's SGEMM call is valid and it returns by itself (a compiled call or its deadline). */
    @Test
    void gemmWarmupCallIsValidAndEnds() {
        assertDoesNotThrow(() -> Warmup.gemm(3));
    }
}
