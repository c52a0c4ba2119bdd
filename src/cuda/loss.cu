// Row-wise softmax cross-entropy with its gradient, one block per row. dlogits may alias logits:
// the target logit is read before any thread writes, and each thread writes only what it read.
#include "common.cuh"

extern "C" __global__ void cross_entropy(float* losses, float* dlogits, const float* logits, const int* targets,
                                         int N, int V, float dscale) {
    int n = blockIdx.x;
    if (n >= N) return;
    long long off = (long long)n * V;
    const float* z = logits + off;
    int tgt = targets[n];
    if (tgt < 0) {
        if (threadIdx.x == 0) losses[n] = 0.f;
        if (dlogits != nullptr) for (int i = threadIdx.x; i < V; i += blockDim.x) dlogits[off + i] = 0.f;
        return;
    }
    float mx = -INFINITY;
    for (int i = threadIdx.x; i < V; i += blockDim.x) mx = fmaxf(mx, z[i]);
    mx = block_max(mx);
    double s = 0.0;
    for (int i = threadIdx.x; i < V; i += blockDim.x) s += exp((double)(z[i] - mx));
    double lse = mx + log(block_sum_d(s));
    float zt = z[tgt];
    __syncthreads();                                 // zt is read by all before dlogits overwrites it
    if (threadIdx.x == 0) losses[n] = (float)(lse - zt);
    if (dlogits != nullptr) {
        for (int i = threadIdx.x; i < V; i += blockDim.x) {
            float pr = (float)exp((double)z[i] - lse);
            dlogits[off + i] = (pr - (i == tgt ? 1.f : 0.f)) * dscale;
        }
    }
}
