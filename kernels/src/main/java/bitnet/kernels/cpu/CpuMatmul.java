package bitnet.kernels.cpu;

/**
 * A weight type that brings its own CPU product (for example packed ternary weights, whose
 * kernel adds and subtracts instead of multiplying). The CPU backends call it for
 * {@code matmul} instead of the generic path, handing over their thread pool.
 */
public interface CpuMatmul {
    /** out (N, OC) = inp (N, C) · Wᵀ + bias (OC, may be null); overwrites out. */
    void matmulInto(float[] out, float[] inp, float[] bias, int N, int C, int OC);

    /** dinp (N, C) += dout (N, OC) · W (the input gradient through this weight). */
    void matmulBackwardInput(float[] dinp, float[] dout, int N, int C, int OC);

    /**
     * {@link #matmulInto} with its work split over par (null: the implementation's own choice).
     * Backends pass their pool, so a product never competes with a second pool for the same cores.
     */
    default void matmulInto(Parallel par, float[] out, float[] inp, float[] bias, int N, int C, int OC) {
        matmulInto(out, inp, bias, N, C, OC);
    }

    /** {@link #matmulBackwardInput} with its work split over par (null: the implementation's own choice). */
    default void matmulBackwardInput(Parallel par, float[] dinp, float[] dout, int N, int C, int OC) {
        matmulBackwardInput(dinp, dout, N, C, OC);
    }
}
