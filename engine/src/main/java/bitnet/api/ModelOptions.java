package bitnet.api;

/**
 * How to load a {@link BitnetModel}. Immutable; safe to share between threads.
 *
 * @param device {@code auto} (CUDA when a driver and GPU are present, else the CPU), {@code cpu},
 *     {@code cuda}, or {@code scalar} (the reference kernels, for tests)
 * @param threads CPU threads for the kernels; 0 means all available processors
 * @param trainable whether the model keeps gradients and optimizer state room for
 *     {@link BitnetModel#fineTune}; an inference model runs packed ternary weights in place
 */
public record ModelOptions(String device, int threads, boolean trainable) {
    /** Checks the values. */
    public ModelOptions {
        if (device == null || !java.util.Set.of("auto", "cpu", "cuda", "scalar").contains(device)) {
            throw new IllegalArgumentException("device must be auto, cpu, cuda or scalar, not '" + device + "'");
        }
        if (threads < 0) {
            throw new IllegalArgumentException("threads must be >= 0 (0 = all cores)");
        }
    }

    /**
     * The defaults: device auto, all cores, inference.
     *
     * @return the default options
     */
    public static ModelOptions defaults() {
        return new ModelOptions("auto", 0, false);
    }

    /**
     * These options on another device.
     *
     * @param d the device (see {@link #device()})
     * @return a copy with that device
     */
    public ModelOptions withDevice(String d) {
        return new ModelOptions(d, threads, trainable);
    }

    /**
     * These options with another thread count.
     *
     * @param n CPU threads, 0 for all cores
     * @return a copy with that thread count
     */
    public ModelOptions withThreads(int n) {
        return new ModelOptions(device, n, trainable);
    }

    /**
     * These options for training or for inference.
     *
     * @param t true to load the model trainable
     * @return a copy with that mode
     */
    public ModelOptions withTrainable(boolean t) {
        return new ModelOptions(device, threads, t);
    }
}
