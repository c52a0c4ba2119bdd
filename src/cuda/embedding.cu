// Token (+ learned position) embedding forward and backward. The backward scatter into the token
// table uses float atomics (ids repeat), so its summation order is not deterministic.
#include "common.cuh"

// out (N, C) = wte[ids[n]] (+ wpe[pos0 + n % T]); wpe may be null.
extern "C" __global__ void embedding_forward(float* out, const int* ids, const float* wte, const float* wpe,
                                             int N, int T, int C, int pos0) {
    GRID_STRIDE(i, (long long)N * C) {
        int n = (int)(i / C), c = (int)(i % C);
        float v = wte[(long long)ids[n] * C + c];
        if (wpe != nullptr) v += wpe[(long long)(pos0 + n % T) * C + c];
        out[i] = v;
    }
}

extern "C" __global__ void embedding_backward_wte(float* dwte, const float* dout, const int* ids, int N, int C) {
    GRID_STRIDE(i, (long long)N * C) {
        int n = (int)(i / C), c = (int)(i % C);
        atomicAdd(&dwte[(long long)ids[n] * C + c], dout[i]);
    }
}

// dwpe (T, C) += sum over the batch; one thread per (t, c), no atomics.
extern "C" __global__ void embedding_backward_wpe(float* dwpe, const float* dout, int B, int T, int C) {
    GRID_STRIDE(i, (long long)T * C) {
        float s = 0.f;
        for (int b = 0; b < B; b++) s += dout[(long long)b * T * C + i];
        dwpe[i] += s;
    }
}
