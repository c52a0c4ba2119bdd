// Causal grouped-query attention, forward and backward, the straightforward way: one warp per
// query row keeps the full probability row in att (B, NH, T, TK) for backward. Not a fused
// flash-attention kernel. HS <= 256 (per-lane accumulators); see MAX_HS.
#include "common.cuh"

#define MAX_HS 256
#define MAX_PER_LANE (MAX_HS / 32)

// out (B, T, NH, HS); att (B, NH, T, TK); q (B, T, NH, HS); k, v (B, TK, NKV, HS).
extern "C" __global__ void attention_forward(float* out, float* att, const float* q, const float* k,
                                             const float* v, int B, int T, int TK, int NH, int NKV,
                                             int HS, int window, float scale) {
    long long row = (blockIdx.x * (long long)blockDim.x + threadIdx.x) >> 5;
    int lane = threadIdx.x & 31;
    if (row >= (long long)B * NH * T) return;       // whole warps exit together
    int t = (int)(row % T);
    int h = (int)((row / T) % NH);
    int b = (int)(row / ((long long)T * NH));
    int kvh = h / (NH / NKV);
    int qpos = TK - T + t;
    int lo = window > 0 ? max(0, qpos - window + 1) : 0;
    const float* qr = q + (((long long)b * T + t) * NH + h) * HS;
    float* p = att + row * TK;
    float mx = -INFINITY;
    for (int j = lo; j <= qpos; j++) {
        const float* kr = k + (((long long)b * TK + j) * NKV + kvh) * HS;
        float s = 0.f;
        for (int i = lane; i < HS; i += 32) s += qr[i] * kr[i];
        s = warp_sum(s) * scale;
        if (lane == 0) p[j] = s;
        mx = fmaxf(mx, s);
    }
    __syncwarp();
    float sum = 0.f;
    for (int j = lane; j < TK; j += 32) {
        float e = (j >= lo && j <= qpos) ? expf(p[j] - mx) : 0.f;
        p[j] = e;
        sum += e;
    }
    float inv = 1.f / warp_sum(sum);
    for (int j = lane; j < TK; j += 32) p[j] *= inv;
    __syncwarp();
    float* o = out + (((long long)b * T + t) * NH + h) * HS;
    for (int i = lane; i < HS; i += 32) {
        float acc = 0.f;
        for (int j = lo; j <= qpos; j++) {
            acc += p[j] * v[(((long long)b * TK + j) * NKV + kvh) * HS + i];
        }
        o[i] = acc;
    }
}

// dq (+=) and rowdot[(b,h,t)] = sum_j p_j * (dout_t . v_j), which the dk/dv kernel needs.
extern "C" __global__ void attention_backward_dq(float* dq, float* rowdot, const float* dout, const float* att,
                                                 const float* k, const float* v, int B, int T, int NH,
                                                 int NKV, int HS, float scale) {
    long long row = (blockIdx.x * (long long)blockDim.x + threadIdx.x) >> 5;
    int lane = threadIdx.x & 31;
    if (row >= (long long)B * NH * T) return;
    int t = (int)(row % T);
    int h = (int)((row / T) % NH);
    int b = (int)(row / ((long long)T * NH));
    int kvh = h / (NH / NKV);
    long long qoff = (((long long)b * T + t) * NH + h) * HS;
    const float* d = dout + qoff;
    const float* p = att + row * T;
    float dot = 0.f;
    for (int j = 0; j <= t; j++) {
        float pj = p[j];
        if (pj == 0.f) continue;
        const float* vr = v + (((long long)b * T + j) * NKV + kvh) * HS;
        float s = 0.f;
        for (int i = lane; i < HS; i += 32) s += d[i] * vr[i];
        dot += pj * warp_sum(s);
    }
    float acc[MAX_PER_LANE];
    for (int m = 0; m < MAX_PER_LANE; m++) acc[m] = 0.f;
    for (int j = 0; j <= t; j++) {
        float pj = p[j];
        if (pj == 0.f) continue;
        long long kvoff = (((long long)b * T + j) * NKV + kvh) * HS;
        float s = 0.f;
        for (int i = lane; i < HS; i += 32) s += d[i] * v[kvoff + i];
        float dpre = pj * (warp_sum(s) - dot) * scale;
#pragma unroll
        for (int m = 0; m < MAX_PER_LANE; m++) {
            int i = lane + 32 * m;
            if (i < HS) acc[m] += dpre * k[kvoff + i];
        }
    }
#pragma unroll
    for (int m = 0; m < MAX_PER_LANE; m++) {
        int i = lane + 32 * m;
        if (i < HS) dq[qoff + i] += acc[m];
    }
    if (lane == 0) rowdot[row] = dot;
}

// dk, dv (+=): one warp per key row (b, kvh, j) gathers every query head of its group and every
// t >= j, so no two warps write the same row and no atomics are needed.
extern "C" __global__ void attention_backward_dkdv(float* dk, float* dv, const float* rowdot, const float* dout,
                                                   const float* att, const float* q, const float* v, int B,
                                                   int T, int NH, int NKV, int HS, float scale) {
    long long row = (blockIdx.x * (long long)blockDim.x + threadIdx.x) >> 5;
    int lane = threadIdx.x & 31;
    if (row >= (long long)B * NKV * T) return;
    int j = (int)(row % T);
    int kvh = (int)((row / T) % NKV);
    int b = (int)(row / ((long long)T * NKV));
    int g = NH / NKV;
    long long kvoff = (((long long)b * T + j) * NKV + kvh) * HS;
    float ak[MAX_PER_LANE], av[MAX_PER_LANE];
    for (int m = 0; m < MAX_PER_LANE; m++) { ak[m] = 0.f; av[m] = 0.f; }
    for (int h = kvh * g; h < (kvh + 1) * g; h++) {
        for (int t = j; t < T; t++) {
            long long prow = ((long long)b * NH + h) * T + t;
            float pj = att[prow * T + j];
            if (pj == 0.f) continue;
            long long qoff = (((long long)b * T + t) * NH + h) * HS;
            float s = 0.f;
            for (int i = lane; i < HS; i += 32) s += dout[qoff + i] * v[kvoff + i];
            float dpre = pj * (warp_sum(s) - rowdot[prow]) * scale;
#pragma unroll
            for (int m = 0; m < MAX_PER_LANE; m++) {
                int i = lane + 32 * m;
                if (i < HS) {
                    ak[m] += dpre * q[qoff + i];
                    av[m] += pj * dout[qoff + i];
                }
            }
        }
    }
#pragma unroll
    for (int m = 0; m < MAX_PER_LANE; m++) {
        int i = lane + 32 * m;
        if (i < HS) {
            dk[kvoff + i] += ak[m];
            dv[kvoff + i] += av[m];
        }
    }
}
