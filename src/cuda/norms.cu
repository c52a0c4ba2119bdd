// LayerNorm and RMSNorm forward/backward. Forward: one block per row, sums in double like the
// reference. Backward splits in two: dinp (one block per row) and the parameter gradients (one
// thread per channel looping over rows), which keeps dw/db deterministic and free of atomics.
#include "common.cuh"

extern "C" __global__ void layernorm_forward(float* out, float* mean, float* rstd, const float* inp,
                                             const float* w, const float* b, int N, int C, float eps) {
    int n = blockIdx.x;
    if (n >= N) return;
    const float* x = inp + (long long)n * C;
    float* o = out + (long long)n * C;
    double s = 0.0;
    for (int c = threadIdx.x; c < C; c += blockDim.x) s += x[c];
    float m = (float)(block_sum_d(s) / C);
    double v = 0.0;
    for (int c = threadIdx.x; c < C; c += blockDim.x) {
        float d = x[c] - m;
        v += d * d;
    }
    float r = (float)(1.0 / sqrt(block_sum_d(v) / C + eps));
    for (int c = threadIdx.x; c < C; c += blockDim.x) {
        o[c] = (x[c] - m) * r * w[c] + (b == nullptr ? 0.f : b[c]);
    }
    if (threadIdx.x == 0) {
        if (mean != nullptr) mean[n] = m;
        if (rstd != nullptr) rstd[n] = r;
    }
}

extern "C" __global__ void layernorm_backward_dx(float* dinp, const float* dout, const float* inp,
                                                 const float* w, const float* mean, const float* rstd,
                                                 int N, int C) {
    int n = blockIdx.x;
    if (n >= N) return;
    long long off = (long long)n * C;
    float m = mean[n], r = rstd[n];
    double a = 0.0, bb = 0.0;
    for (int c = threadIdx.x; c < C; c += blockDim.x) {
        float norm = (inp[off + c] - m) * r;
        float dnorm = w[c] * dout[off + c];
        a += dnorm;
        bb += dnorm * norm;
    }
    float am = (float)(block_sum_d(a) / C);
    float bm = (float)(block_sum_d(bb) / C);
    for (int c = threadIdx.x; c < C; c += blockDim.x) {
        float norm = (inp[off + c] - m) * r;
        float dnorm = w[c] * dout[off + c];
        dinp[off + c] += (dnorm - am - norm * bm) * r;
    }
}

extern "C" __global__ void layernorm_backward_dwdb(float* dw, float* db, const float* dout, const float* inp,
                                                   const float* mean, const float* rstd, int N, int C) {
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C) return;
    float sw = 0.f, sb = 0.f;
    for (int n = 0; n < N; n++) {
        long long i = (long long)n * C + c;
        float d = dout[i];
        sw += (inp[i] - mean[n]) * rstd[n] * d;
        sb += d;
    }
    dw[c] += sw;
    if (db != nullptr) db[c] += sb;
}

extern "C" __global__ void rmsnorm_forward(float* out, float* rstd, const float* inp, const float* w,
                                           int N, int C, float eps) {
    int n = blockIdx.x;
    if (n >= N) return;
    const float* x = inp + (long long)n * C;
    float* o = out + (long long)n * C;
    double ss = 0.0;
    for (int c = threadIdx.x; c < C; c += blockDim.x) ss += (double)x[c] * x[c];
    float r = (float)(1.0 / sqrt((double)((float)(block_sum_d(ss) / C) + eps)));
    for (int c = threadIdx.x; c < C; c += blockDim.x) o[c] = w[c] * (x[c] * r);
    if (threadIdx.x == 0 && rstd != nullptr) rstd[n] = r;
}

extern "C" __global__ void rmsnorm_backward_dx(float* dinp, const float* dout, const float* inp, const float* w,
                                               const float* rstd, int N, int C) {
    int n = blockIdx.x;
    if (n >= N) return;
    long long off = (long long)n * C;
    float r = rstd[n];
    double dot = 0.0;
    for (int c = threadIdx.x; c < C; c += blockDim.x) dot += (double)dout[off + c] * w[c] * inp[off + c];
    float k = (float)(block_sum_d(dot) / C) * r * r * r;
    for (int c = threadIdx.x; c < C; c += blockDim.x) {
        dinp[off + c] += dout[off + c] * w[c] * r - k * inp[off + c];
    }
}

extern "C" __global__ void rmsnorm_backward_dw(float* dw, const float* dout, const float* inp, const float* rstd,
                                               int N, int C) {
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C) return;
    float s = 0.f;
    for (int n = 0; n < N; n++) {
        long long i = (long long)n * C + c;
        s += dout[i] * (inp[i] * rstd[n]);
    }
    dw[c] += s;
}
