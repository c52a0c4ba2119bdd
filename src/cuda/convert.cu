// Storage-format conversion on upload: BF16 / F16 weights arrive as raw 16-bit words and are
// widened to FP32 on the device (the host never loops over them). Not a compute kernel.
#include <cuda_fp16.h>
#include "common.cuh"

extern "C" __global__ void bf16_to_f32(float* out, const unsigned short* in, long long n) {
    GRID_STRIDE(i, n) out[i] = __uint_as_float(((unsigned int)in[i]) << 16);
}

extern "C" __global__ void f16_to_f32(float* out, const __half* in, long long n) {
    GRID_STRIDE(i, n) out[i] = __half2float(in[i]);
}
