package bitnet.engine.model;

import bitnet.io.DType;
import bitnet.io.ModelConfig;
import bitnet.kernels.Buf;
import bitnet.kernels.Kernels;

/**
 * cos and sin tables (maxT, RD/2) of one rotary embedding, computed in FP32 the way HF does
 * (inv_freq, position * inv_freq, cos/sin): default, linear and llama3 scaling, Phi-3's longrope
 * (short or long factors, both tables' cos and sin times the attention factor), and partial
 * rotary (RD = int(HS * partial_rotary_factor) of each head rotates).
 */
final class RopeTable implements AutoCloseable {
    final Buf cos, sin; // (maxT, RD/2)
    final int rd;

    private RopeTable(Buf cos, Buf sin, int rd) {
        this.cos = cos;
        this.sin = sin;
        this.rd = rd;
    }

    /** The table of rope r for heads of size hs; longFactors picks longrope's long factors. */
    static RopeTable of(Kernels k, ModelConfig.Rope r, String dtype, int hs, int maxT, boolean longFactors) {
        int rd = r.rotaryDim(hs);
        int half = rd / 2;
        float[] inv = new float[half];
        float scale = 1f;
        switch (r.type()) {
            case "default" -> {
                for (int i = 0; i < half; i++) {
                    inv[i] = 1.0f / (float) Math.pow((float) r.theta(), (float) (2 * i) / rd);
                }
            }
            case "longrope" -> {
                // inv_freq = 1 / (ext * base^(2i/d)): the factor multiplies inside the reciprocal
                var ext = longFactors ? r.longFactor() : r.shortFactor();
                for (int i = 0; i < half; i++) {
                    inv[i] = 1.0f
                            / ((float) (double) ext.get(i) * (float) Math.pow((float) r.theta(), (float) (2 * i) / rd));
                }
                scale = (float) r.attentionFactor();
            }
            default -> {
                double[] d = r.invFreq(rd);
                for (int i = 0; i < half; i++) {
                    inv[i] = (float) d[i];
                }
            }
        }
        // HF keeps inv_freq as a module buffer, so casting a model to bf16/f16 rounds it too; a
        // model stored in half precision was run by HF with the rounded frequencies.
        String dt = dtype == null ? "" : dtype;
        for (int i = 0; i < half; i++) {
            if (dt.equals("bfloat16")) {
                inv[i] = DType.bf16ToFloat(DType.floatToBf16(inv[i]));
            } else if (dt.equals("float16")) {
                inv[i] = Float.float16ToFloat(Float.floatToFloat16(inv[i]));
            }
        }
        float[] cos = new float[maxT * half];
        float[] sin = new float[maxT * half];
        for (int t = 0; t < maxT; t++) {
            for (int i = 0; i < half; i++) {
                float f = (float) t * inv[i];
                cos[t * half + i] = (float) Math.cos(f) * scale;
                sin[t * half + i] = (float) Math.sin(f) * scale;
            }
        }
        return new RopeTable(k.upload(cos), k.upload(sin), rd);
    }

    /** Rotates x (B, T, NH, HS) in place at positions pos0.. . */
    void apply(Kernels k, Buf x, int B, int T, int NH, int HS, int pos0) {
        k.rope(x, cos, sin, B, T, NH, HS, rd, pos0);
    }

    /** The transpose of apply, on dx. */
    void backward(Kernels k, Buf dx, int B, int T, int NH, int HS) {
        k.ropeBackward(dx, cos, sin, B, T, NH, HS, rd, 0);
    }

    @Override
    public void close() {
        cos.close();
        sin.close();
    }
}
