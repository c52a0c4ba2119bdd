package bitnet.kernels;

/**
 * A weight matrix in the layout nn.Linear stores: (rows = out features, cols = in features),
 * row-major. Implementations differ in storage: FP32 in a {@link Buf} (trainable), BF16/F16/F32
 * read in place from a mapped file, packed ternary. Each has a scalar {@link #get} so the
 * reference kernels (and tests) can read any of them.
 */
public interface Weight {
    int rows();

    int cols();

    /** Element (r, c) as FP32. Slow path: for reference kernels and tests only. */
    float get(int r, int c);
}
