package bitnet.engine.model;

import bitnet.io.ModelConfig;
import bitnet.kernels.Buf;
import bitnet.kernels.Kernels;
import java.util.List;

/**
 * GPT-2: learned positions, LayerNorm, fused c_attn (split here into q, k, v), gelu_new MLP,
 * biases everywhere, head tied to the token embedding. HF stores its Conv1D weights as
 * (in, out); internally they are (out, in) like every other linear weight, and {@link HfTensor}
 * maps values and gradients back to the stored layout.
 */
public final class Gpt2Model extends Model {
    private final int L, C, NH, HS, F, V;
    private final Param wte, wpe, lnfw, lnfb;
    private final Param[] ln1w, ln1b, wq, wk, wv, bq, bk, bv, wproj, bproj, ln2w, ln2b, wfc, bfc, wfp, bfp;
    // activations (allocate), per layer unless noted
    private Buf[] xn1, mean1, rstd1; // (N, C), (N), (N)
    private Buf[] q, kk, vv, att, atty; // (N, C) x3, attention state, (N, C)
    private Buf[] xm, xn2, mean2, rstd2; // (N, C), (N, C), (N), (N)
    private Buf[] fch, fcg; // (N, F) pre- and post-gelu
    private Buf tmpC, meanf, rstdf; // (N, C), (N), (N)
    // gradient scratch
    private Buf dres, dxn, dq, dk, dv, datty, dfcg, dfch;

    public Gpt2Model(ModelConfig cfg, Kernels k) {
        super(cfg, k);
        L = cfg.numLayers();
        C = cfg.hiddenSize();
        NH = cfg.numHeads();
        HS = C / NH;
        F = cfg.intermediateSize();
        V = cfg.vocabSize();
        int maxT = cfg.maxPositions();
        wte = hf("transformer.wte.weight", Param.Kind.EMBEDDING, new long[] {V, C}, V, C);
        wpe = hf("transformer.wpe.weight", Param.Kind.POSITION, new long[] {maxT, C}, maxT, C);
        ln1w = new Param[L];
        ln1b = new Param[L];
        wq = new Param[L];
        wk = new Param[L];
        wv = new Param[L];
        bq = new Param[L];
        bk = new Param[L];
        bv = new Param[L];
        wproj = new Param[L];
        bproj = new Param[L];
        ln2w = new Param[L];
        ln2b = new Param[L];
        wfc = new Param[L];
        bfc = new Param[L];
        wfp = new Param[L];
        bfp = new Param[L];
        for (int l = 0; l < L; l++) {
            String p = "transformer.h." + l + ".";
            ln1w[l] = hf(p + "ln_1.weight", Param.Kind.NORM, new long[] {C}, 1, C);
            ln1b[l] = hf(p + "ln_1.bias", Param.Kind.BIAS, new long[] {C}, 1, C);
            wq[l] = param(p + "attn.c_attn.weight#q", Param.Kind.LINEAR, C, C);
            wk[l] = param(p + "attn.c_attn.weight#k", Param.Kind.LINEAR, C, C);
            wv[l] = param(p + "attn.c_attn.weight#v", Param.Kind.LINEAR, C, C);
            hfMapped(
                    p + "attn.c_attn.weight",
                    new long[] {C, 3L * C},
                    HfTensor.Layout.SPLIT_TRANSPOSE,
                    List.of(wq[l], wk[l], wv[l]));
            bq[l] = param(p + "attn.c_attn.bias#q", Param.Kind.BIAS, 1, C);
            bk[l] = param(p + "attn.c_attn.bias#k", Param.Kind.BIAS, 1, C);
            bv[l] = param(p + "attn.c_attn.bias#v", Param.Kind.BIAS, 1, C);
            hfMapped(
                    p + "attn.c_attn.bias",
                    new long[] {3L * C},
                    HfTensor.Layout.SPLIT_TRANSPOSE,
                    List.of(bq[l], bk[l], bv[l]));
            wproj[l] = param(p + "attn.c_proj.weight", Param.Kind.LINEAR, C, C);
            hfMapped(p + "attn.c_proj.weight", new long[] {C, C}, HfTensor.Layout.TRANSPOSE, List.of(wproj[l]));
            bproj[l] = hf(p + "attn.c_proj.bias", Param.Kind.BIAS, new long[] {C}, 1, C);
            ln2w[l] = hf(p + "ln_2.weight", Param.Kind.NORM, new long[] {C}, 1, C);
            ln2b[l] = hf(p + "ln_2.bias", Param.Kind.BIAS, new long[] {C}, 1, C);
            wfc[l] = param(p + "mlp.c_fc.weight", Param.Kind.LINEAR, F, C);
            hfMapped(p + "mlp.c_fc.weight", new long[] {C, F}, HfTensor.Layout.TRANSPOSE, List.of(wfc[l]));
            bfc[l] = hf(p + "mlp.c_fc.bias", Param.Kind.BIAS, new long[] {F}, 1, F);
            wfp[l] = param(p + "mlp.c_proj.weight", Param.Kind.LINEAR, C, F);
            hfMapped(p + "mlp.c_proj.weight", new long[] {F, C}, HfTensor.Layout.TRANSPOSE, List.of(wfp[l]));
            bfp[l] = hf(p + "mlp.c_proj.bias", Param.Kind.BIAS, new long[] {C}, 1, C);
        }
        lnfw = hf("transformer.ln_f.weight", Param.Kind.NORM, new long[] {C}, 1, C);
        lnfb = hf("transformer.ln_f.bias", Param.Kind.BIAS, new long[] {C}, 1, C);
    }

    @Override
    protected void allocate(boolean keepAtt) {
        long nc = (long) N * C;
        xn1 = acts(nc);
        mean1 = acts(N);
        rstd1 = acts(N);
        q = acts(nc);
        kk = acts(nc);
        vv = acts(nc);
        att = attStates(NH, keepAtt);
        atty = acts(nc);
        xm = acts(nc);
        xn2 = acts(nc);
        mean2 = acts(N);
        rstd2 = acts(N);
        fch = acts((long) N * F);
        fcg = acts((long) N * F);
        tmpC = act(nc);
        meanf = act(N);
        rstdf = act(N);
    }

    @Override
    protected void allocateGrads() {
        long nc = (long) N * C;
        dres = scratch(nc);
        dxn = scratch(nc);
        dq = scratch(nc);
        dk = scratch(nc);
        dv = scratch(nc);
        datty = scratch(nc);
        dfcg = scratch((long) N * F);
        dfch = scratch((long) N * F);
    }

    @Override
    public Attention attention(int l) {
        return new Attention(q[l], kk[l], vv[l], NH, NH, HS);
    }

    @Override
    protected int kvDim() {
        return C;
    }

    @Override
    protected void forwardPass(int[] ids, int pos0, KvCache cache) {
        float eps = cfg.normEps();
        k.embedding(x[0], ids, wte.weight, wpe.weight, B, T, C, pos0);
        for (int l = 0; l < L; l++) {
            k.layernorm(xn1[l], mean1[l], rstd1[l], x[l], ln1w[l].value, ln1b[l].value, N, C, eps);
            k.matmul(q[l], xn1[l], wq[l].weight, bq[l].value, N, C, C);
            k.matmul(kk[l], xn1[l], wk[l].weight, bk[l].value, N, C, C);
            k.matmul(vv[l], xn1[l], wv[l].weight, bv[l].value, N, C, C);
            attend(l, atty[l], att[l], q[l], kk[l], vv[l], cache, pos0, NH, NH, HS, 0);
            k.matmul(tmpC, atty[l], wproj[l].weight, bproj[l].value, N, C, C);
            k.add(xm[l], x[l], tmpC, (long) N * C);
            k.layernorm(xn2[l], mean2[l], rstd2[l], xm[l], ln2w[l].value, ln2b[l].value, N, C, eps);
            k.matmul(fch[l], xn2[l], wfc[l].weight, bfc[l].value, N, C, F);
            k.gelu(fcg[l], fch[l], (long) N * F);
            k.matmul(tmpC, fcg[l], wfp[l].weight, bfp[l].value, N, F, C);
            k.add(x[l + 1], xm[l], tmpC, (long) N * C);
        }
        k.layernorm(xf, meanf, rstdf, x[L], lnfw.value, lnfb.value, N, C, eps);
    }

    @Override
    protected Param head() {
        return wte;
    }

    @Override
    protected void backwardPass(int[] ids, Buf dxf) {
        k.zero(dres);
        k.layernormBackward(dres, g(lnfw), g(lnfb), dxf, x[L], lnfw.value, meanf, rstdf, N, C);
        for (int l = L - 1; l >= 0; l--) {
            // MLP: x[l+1] = xm + proj(gelu(fc(ln2(xm)))); dres holds d x[l+1]
            k.zero(dfcg);
            k.matmulBackward(dfcg, g(wfp[l]), g(bfp[l]), dres, fcg[l], wfp[l].weight, N, F, C);
            k.zero(dfch);
            k.geluBackward(dfch, dfcg, fch[l], (long) N * F);
            k.zero(dxn);
            k.matmulBackward(dxn, g(wfc[l]), g(bfc[l]), dfch, xn2[l], wfc[l].weight, N, C, F);
            k.layernormBackward(dres, g(ln2w[l]), g(ln2b[l]), dxn, xm[l], ln2w[l].value, mean2[l], rstd2[l], N, C);
            // attention: xm = x + proj(attn(q, k, v))
            k.zero(datty);
            k.matmulBackward(datty, g(wproj[l]), g(bproj[l]), dres, atty[l], wproj[l].weight, N, C, C);
            k.zero(dq);
            k.zero(dk);
            k.zero(dv);
            attentionBackward(l, dq, dk, dv, datty, att[l], q[l], kk[l], vv[l], B, T, NH, NH, HS);
            k.zero(dxn);
            k.matmulBackward(dxn, g(wq[l]), g(bq[l]), dq, xn1[l], wq[l].weight, N, C, C);
            k.matmulBackward(dxn, g(wk[l]), g(bk[l]), dk, xn1[l], wk[l].weight, N, C, C);
            k.matmulBackward(dxn, g(wv[l]), g(bv[l]), dv, xn1[l], wv[l].weight, N, C, C);
            k.layernormBackward(dres, g(ln1w[l]), g(ln1b[l]), dxn, x[l], ln1w[l].value, mean1[l], rstd1[l], N, C);
        }
        embeddingBackward(wte, wpe, dres, ids, null);
    }
}
