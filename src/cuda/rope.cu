// Rotary position embedding (HF rotate_half) in place; sign = -1 gives the backward (the
// transpose rotation). cos/sin tables (maxT, HS/2) come from the host.
#include "common.cuh"

extern "C" __global__ void rope_rotate(float* x, const float* cs, const float* sn, int B, int T, int NH,
                                       int HS, int pos0, float sign) {
    int half = HS / 2;
    GRID_STRIDE(idx, (long long)B * T * NH * half) {
        int i = (int)(idx % half);
        long long row = idx / half;                 // (b, t, h) flattened
        int t = (int)((row / NH) % T);
        long long off = row * HS;
        int tab = (pos0 + t) * half + i;
        float c = cs[tab], s = sign * sn[tab];
        float x1 = x[off + i], x2 = x[off + i + half];
        x[off + i] = x1 * c - x2 * s;
        x[off + i + half] = x2 * c + x1 * s;
    }
}
