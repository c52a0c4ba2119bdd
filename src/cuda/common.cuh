// Shared device helpers for the bitnet CUDA kernels: grid-stride loops and warp/block reductions.
// Not a kernel file: every .cu includes it; it has no __global__ functions.
#pragma once

// Element loops use 64-bit indices: activations of large models pass 2^31 elements.
#define GRID_STRIDE(i, n) \
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < (long long)(n); \
         i += (long long)blockDim.x * gridDim.x)

__device__ __forceinline__ float warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

__device__ __forceinline__ double warp_sum_d(double v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

__device__ __forceinline__ float warp_max(float v) {
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

// Block-wide reductions: every thread gets the result. The leading barrier makes the shared
// scratch safe to reuse when a kernel reduces several times in a row. blockDim.x % 32 == 0.
__device__ __forceinline__ double block_sum_d(double v) {
    __shared__ double s[32];
    v = warp_sum_d(v);
    __syncthreads();
    if ((threadIdx.x & 31) == 0) s[threadIdx.x >> 5] = v;
    __syncthreads();
    double r = 0.0;
    int nw = blockDim.x >> 5;
    for (int w = 0; w < nw; w++) r += s[w];
    return r;
}

__device__ __forceinline__ float block_max(float v) {
    __shared__ float s[32];
    v = warp_max(v);
    __syncthreads();
    if ((threadIdx.x & 31) == 0) s[threadIdx.x >> 5] = v;
    __syncthreads();
    float r = -INFINITY;
    int nw = blockDim.x >> 5;
    for (int w = 0; w < nw; w++) r = fmaxf(r, s[w]);
    return r;
}
