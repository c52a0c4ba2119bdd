// Elementwise and reduction kernels: add, GELU (tanh), SwiGLU, scale, axpy, bias add and bias
// gradient, AdamW, Grokfast EMA, sum of squares. Semantics follow bitnet.kernels.Kernels and the
// scalar reference ScalarKernels; GEMMs are not here (cuBLAS does them).
#include "common.cuh"

extern "C" __global__ void add_f32(float* out, const float* a, const float* b, long long n) {
    GRID_STRIDE(i, n) out[i] = a[i] + b[i];
}

#define GELU_K 0.7978845608028654f

extern "C" __global__ void gelu_forward(float* out, const float* inp, long long n) {
    GRID_STRIDE(i, n) {
        float v = inp[i];
        out[i] = 0.5f * v * (1.f + tanhf(GELU_K * (v + 0.044715f * v * v * v)));
    }
}

extern "C" __global__ void gelu_backward(float* dinp, const float* dout, const float* inp, long long n) {
    GRID_STRIDE(i, n) {
        float v = inp[i];
        float th = tanhf(GELU_K * (v + 0.044715f * v * v * v));
        float sech2 = 1.f - th * th;
        float g = 0.5f * (1.f + th) + 0.5f * v * sech2 * GELU_K * (1.f + 3.f * 0.044715f * v * v);
        dinp[i] += g * dout[i];
    }
}

__device__ __forceinline__ float sigmoidf_(float x) { return 1.f / (1.f + expf(-x)); }

extern "C" __global__ void swiglu_forward(float* out, const float* gate, const float* up, long long n) {
    GRID_STRIDE(i, n) {
        float x = gate[i];
        out[i] = x * sigmoidf_(x) * up[i];
    }
}

extern "C" __global__ void swiglu_backward(float* dgate, float* dup, const float* dout, const float* gate,
                                           const float* up, long long n) {
    GRID_STRIDE(i, n) {
        float x = gate[i], s = sigmoidf_(x);
        dgate[i] += dout[i] * up[i] * (s * (1.f + x * (1.f - s)));
        dup[i] += dout[i] * (x * s);
    }
}

extern "C" __global__ void scale_f32(float* x, long long n, float s) {
    GRID_STRIDE(i, n) x[i] *= s;
}

extern "C" __global__ void axpy_f32(float* y, const float* x, long long n, float a) {
    GRID_STRIDE(i, n) y[i] += a * x[i];
}

// out (N, OC) += bias (OC) broadcast over rows: cuBLAS writes the product, this adds the bias.
extern "C" __global__ void add_bias(float* out, const float* bias, long long N, int OC) {
    GRID_STRIDE(i, N * OC) out[i] += bias[i % OC];
}

// dbias (OC) += sum over rows of dout (N, OC): one thread per column keeps reads coalesced and
// the sum deterministic (no atomics).
extern "C" __global__ void bias_backward(float* dbias, const float* dout, int N, int OC) {
    int oc = blockIdx.x * blockDim.x + threadIdx.x;
    if (oc >= OC) return;
    float s = 0.f;
    for (int n = 0; n < N; n++) s += dout[(long long)n * OC + oc];
    dbias[oc] += s;
}

// PyTorch AdamW; the host computes the bias corrections the way the reference does.
extern "C" __global__ void adamw_f32(float* p, float* m, float* v, const float* g, long long n,
                                     float decay, float w1, float b2, float w2, float stepSize,
                                     float bc2Sqrt, float eps) {
    GRID_STRIDE(i, n) {
        float gi = g[i];
        float pi = p[i] * decay;
        float mi = m[i] + w1 * (gi - m[i]);
        float vi = v[i] * b2 + w2 * gi * gi;
        float denom = sqrtf(vi) / bc2Sqrt + eps;
        p[i] = pi + -stepSize * (mi / denom);
        m[i] = mi;
        v[i] = vi;
    }
}

extern "C" __global__ void grokfast_ema(float* g, float* mu, long long n, float alpha, float lambda) {
    float w = 1.f - alpha;
    GRID_STRIDE(i, n) {
        float mi = mu[i] * alpha + g[i] * w;
        mu[i] = mi;
        g[i] += mi * lambda;
    }
}

// *out += sum of x² in double (per-thread, per-block, then one double atomic per block).
extern "C" __global__ void sum_squares(double* out, const float* x, long long n) {
    double s = 0.0;
    GRID_STRIDE(i, n) s += (double)x[i] * x[i];
    s = block_sum_d(s);
    if (threadIdx.x == 0) atomicAdd(out, s);
}
