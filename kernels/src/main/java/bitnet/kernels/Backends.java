package bitnet.kernels;

import bitnet.io.BadInputException;
import bitnet.kernels.cpu.ScalarKernels;
import java.lang.reflect.Method;
import java.util.logging.Logger;

/**
 * Picks the compute backend: CUDA, then the Vector API, then the scalar reference. Honours an
 * explicit choice ({@code --device auto|cpu|cuda}, or the system property {@code bitnet.device})
 * and logs what it chose and why. Optional backends are found by class name so that the CPU
 * path never loads native code.
 */
public final class Backends {
    private static final Logger LOG = Logger.getLogger("bitnet");
    static final String CUDA_CLASS = "bitnet.kernels.cuda.CudaKernels";
    static final String VECTOR_CLASS = "bitnet.kernels.cpu.VectorKernels";

    private Backends() {}

    /** The outcome of a choice: the backend and a one-line reason for logs. */
    public record Choice(Kernels kernels, String reason) {}

    /**
     * Lets the CPU kernels start compiling before a model is loaded (see VectorKernels.warmUp: off
     * by default) unless the device asked for is CUDA or the scalar reference. Returns at once.
     */
    public static void warmUp(String device) {
        if (!"cuda".equals(device) && !"scalar".equals(device)) {
            bitnet.kernels.cpu.VectorKernels.warmUp();
        }
    }

    /**
     * @param device auto, cpu, cuda, or scalar (the reference, for tests and debugging)
     * @param threads CPU threads (0 = all cores)
     */
    public static Choice select(String device, int threads) {
        String d = device == null || device.isBlank() ? System.getProperty("bitnet.device", "auto") : device;
        switch (d) {
            case "scalar" -> {
                return new Choice(new ScalarKernels(), "scalar reference requested");
            }
            case "cpu" -> {
                return cpu(threads, "cpu requested");
            }
            case "cuda" -> {
                Object r = tryCuda();
                if (r instanceof Kernels k) {
                    return new Choice(k, "cuda requested");
                }
                throw new BadInputException(
                        "--device cuda", "no usable CUDA device: " + r + " (use --device cpu or auto)", null);
            }
            case "auto" -> {
                Object r = tryCuda();
                if (r instanceof Kernels k) {
                    return new Choice(k, "auto: CUDA device found");
                }
                return cpu(threads, "auto: no CUDA (" + r + "), using the CPU");
            }
            default -> throw new BadInputException("--device", "unknown device '" + d + "' (auto, cpu, cuda)", null);
        }
    }

    private static Choice cpu(int threads, String why) {
        try {
            Class<?> c = Class.forName(VECTOR_CLASS);
            Kernels k = (Kernels) c.getConstructor(int.class).newInstance(threads);
            return new Choice(k, why + " (Vector API)");
        } catch (ReflectiveOperationException | LinkageError e) {
            return new Choice(new ScalarKernels(), why + " (scalar reference: Vector API unavailable: " + e + ")");
        }
    }

    /** A CUDA backend, or a String saying why there is none. */
    private static Object tryCuda() {
        if (Boolean.getBoolean("bitnet.nocuda")) {
            return "disabled by -Dbitnet.nocuda";
        }
        try {
            Class<?> c = Class.forName(CUDA_CLASS);
            Method m = c.getMethod("tryCreate");
            return m.invoke(null);
        } catch (ClassNotFoundException e) {
            return "this build has no CUDA backend";
        } catch (ReflectiveOperationException | LinkageError e) {
            Throwable t = e.getCause() != null ? e.getCause() : e;
            return "CUDA backend failed to start: " + t;
        }
    }

    /** Logs a choice once. */
    public static Kernels log(Choice c) {
        LOG.info("backend " + c.kernels().name() + ": " + c.reason());
        return c.kernels();
    }
}
