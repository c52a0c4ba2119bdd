package bitnet.engine.model;

import bitnet.io.ModelConfig;
import bitnet.kernels.Kernels;

/**
 * Phi-3, Phi-3.5, Phi-4-mini: the Llama computation ({@link LlamaModel}: partial rotary and
 * longrope come from the config) over Phi-3's fused tensors, used as stored. qkv_proj's rows
 * are [q: NH*HS | k: NKV*HS | v: NKV*HS] and gate_up_proj's [gate: I | up: I]; each row block is
 * one internal weight (read in place at inference), while quantizers, gradients and files see
 * the fused tensor. The padding row of the embedding gets no gradient from the lookup.
 */
public final class Phi3Model extends LlamaModel {

    public Phi3Model(ModelConfig cfg, Kernels k) {
        super(cfg, k);
    }

    @Override
    protected void declareAttention(int l, String p) {
        Param[] qkv = hfRows(
                p + "qkv_proj.weight",
                Param.Kind.LINEAR,
                new long[] {QD + 2L * KVD, C},
                new String[] {"q", "k", "v"},
                new int[][] {range(0, QD), range(QD, KVD), range(QD + KVD, KVD)});
        wq[l] = qkv[0];
        wk[l] = qkv[1];
        wv[l] = qkv[2];
        wo[l] = hf(p + "o_proj.weight", Param.Kind.LINEAR, new long[] {C, QD}, C, QD);
    }

    @Override
    protected void declareMlp(int l, String p) {
        Param[] gu = hfRows(
                p + "gate_up_proj.weight",
                Param.Kind.LINEAR,
                new long[] {2L * I, C},
                new String[] {"gate", "up"},
                new int[][] {range(0, I), range(I, I)});
        wg[l] = gu[0];
        wu[l] = gu[1];
        wd[l] = hf(p + "down_proj.weight", Param.Kind.LINEAR, new long[] {C, I}, C, I);
    }
}
