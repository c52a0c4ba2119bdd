/**
 * The compute backends behind the {@code bitnet.kernels.Kernels} interface: the scalar reference,
 * the Vector API kernels, the packed ternary and int8 weights, and the CUDA backend. Only the
 * interface package is exported; backends are found by {@code Backends}. JCuda is optional
 * ({@code requires static}): without it, or without {@code libcuda.so.1}, no native library is
 * loaded and the CPU backends run.
 */
module bitnet.kernels {
    requires transitive bitnet.io;
    requires jdk.incubator.vector;
    requires java.logging;
    requires static java.management;
    requires static jcuda;

    exports bitnet.kernels;
}
