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
    private final int L, C, NH, HS, F, V, maxT;
    private final Param wte, wpe, lnfw, lnfb;
    private final Param[] ln1w, ln1b, wq, wk, wv, bq, bk, bv, wproj, bproj, ln2w, ln2b, wfc, bfc, wfp, bfp;
    private Acts a;

    private final class Acts {
        final int B, T, N;
        final Buf[] x;                          // L+1 x (N, C)
        final Buf[] xn1, mean1, rstd1;          // (N, C), (N), (N)
        final Buf[] q, kk, vv, att, atty;       // (N, C) x4, (B, NH, T, T)
        final Buf[] xm, xn2, mean2, rstd2;      // (N, C), (N, C), (N), (N)
        final Buf[] fch, fcg;                   // (N, F) pre- and post-gelu
        final Buf tmpC, xf, meanf, rstdf, logits;

        Acts(int B, int T, boolean keepAtt) {
            this.B = B;
            this.T = T;
            this.N = B * T;
            x = new Buf[L + 1];
            for (int l = 0; l <= L; l++) {
                x[l] = k.alloc((long) N * C);
            }
            xn1 = bufs((long) N * C); mean1 = bufs(N); rstd1 = bufs(N);
            q = bufs((long) N * C); kk = bufs((long) N * C); vv = bufs((long) N * C);
            att = keepAtt ? bufs(k.attentionStateSize(B, NH, T)) : new Buf[L];
            atty = bufs((long) N * C); xm = bufs((long) N * C); xn2 = bufs((long) N * C);
            mean2 = bufs(N); rstd2 = bufs(N);
            fch = bufs((long) N * F); fcg = bufs((long) N * F);
            tmpC = k.alloc((long) N * C);
            xf = k.alloc((long) N * C);
            meanf = k.alloc(N);
            rstdf = k.alloc(N);
            logits = k.alloc((long) N * V);
        }

        private Buf[] bufs(long n) {
            return perLayer(L, n);
        }

        void close() {
            for (Buf[] bs : new Buf[][] {x, xn1, mean1, rstd1, q, kk, vv, att, atty, xm, xn2, mean2, rstd2, fch, fcg}) {
                for (Buf b : bs) {
                    if (b != null) {
                        b.close();
                    }
                }
            }
            tmpC.close(); xf.close(); meanf.close(); rstdf.close(); logits.close();
        }
    }

    public Gpt2Model(ModelConfig cfg, Kernels k) {
        super(cfg, k);
        L = cfg.numLayers(); C = cfg.hiddenSize(); NH = cfg.numHeads(); HS = C / NH;
        F = cfg.intermediateSize(); V = cfg.vocabSize(); maxT = cfg.maxPositions();
        wte = hf("transformer.wte.weight", Param.Kind.EMBEDDING, new long[] {V, C}, V, C);
        wpe = hf("transformer.wpe.weight", Param.Kind.POSITION, new long[] {maxT, C}, maxT, C);
        ln1w = new Param[L]; ln1b = new Param[L]; wq = new Param[L]; wk = new Param[L]; wv = new Param[L];
        bq = new Param[L]; bk = new Param[L]; bv = new Param[L]; wproj = new Param[L]; bproj = new Param[L];
        ln2w = new Param[L]; ln2b = new Param[L]; wfc = new Param[L]; bfc = new Param[L]; wfp = new Param[L]; bfp = new Param[L];
        for (int l = 0; l < L; l++) {
            String p = "transformer.h." + l + ".";
            ln1w[l] = hf(p + "ln_1.weight", Param.Kind.NORM, new long[] {C}, 1, C);
            ln1b[l] = hf(p + "ln_1.bias", Param.Kind.BIAS, new long[] {C}, 1, C);
            wq[l] = param(p + "attn.c_attn.weight#q", Param.Kind.LINEAR, C, C);
            wk[l] = param(p + "attn.c_attn.weight#k", Param.Kind.LINEAR, C, C);
            wv[l] = param(p + "attn.c_attn.weight#v", Param.Kind.LINEAR, C, C);
            hfMapped(p + "attn.c_attn.weight", new long[] {C, 3L * C}, HfTensor.Layout.SPLIT_TRANSPOSE, List.of(wq[l], wk[l], wv[l]));
            bq[l] = param(p + "attn.c_attn.bias#q", Param.Kind.BIAS, 1, C);
            bk[l] = param(p + "attn.c_attn.bias#k", Param.Kind.BIAS, 1, C);
            bv[l] = param(p + "attn.c_attn.bias#v", Param.Kind.BIAS, 1, C);
            hfMapped(p + "attn.c_attn.bias", new long[] {3L * C}, HfTensor.Layout.SPLIT_TRANSPOSE, List.of(bq[l], bk[l], bv[l]));
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

    private Acts acts(int B, int T, boolean keepAtt) {
        if (a == null || a.B != B || a.T != T || (keepAtt && a.att[0] == null)) {
            if (a != null) {
                a.close();
            }
            a = new Acts(B, T, keepAtt);
        }
        return a;
    }

    @Override
    public Buf forward(int[] ids, int B, int T, KvCache cache) {
        checkIds(ids);
        int pos0 = cache == null ? 0 : cache.length;
        if (pos0 + T > maxT) {
            throw new IllegalArgumentException("sequence of " + (pos0 + T) + " exceeds n_positions " + maxT);
        }
        if (cache != null && B != 1) {
            throw new IllegalArgumentException("the KV cache holds one sequence");
        }
        Acts s = acts(B, T, cache == null);
        int N = B * T;
        k.embedding(s.x[0], ids, wte.weight, wpe.weight, B, T, C, pos0);
        for (int l = 0; l < L; l++) {
            k.layernorm(s.xn1[l], s.mean1[l], s.rstd1[l], s.x[l], ln1w[l].value, ln1b[l].value, N, C, cfg.normEps());
            k.matmul(s.q[l], s.xn1[l], wq[l].weight, bq[l].value, N, C, C);
            k.matmul(s.kk[l], s.xn1[l], wk[l].weight, bk[l].value, N, C, C);
            k.matmul(s.vv[l], s.xn1[l], wv[l].weight, bv[l].value, N, C, C);
            if (cache == null) {
                k.attention(s.atty[l], s.att[l], s.q[l], s.kk[l], s.vv[l], B, T, T, NH, NH, HS, 0);
            } else {
                k.copy(cache.keys[l], (long) pos0 * C, s.kk[l], 0, (long) T * C);
                k.copy(cache.values[l], (long) pos0 * C, s.vv[l], 0, (long) T * C);
                k.attention(s.atty[l], null, s.q[l], cache.keys[l], cache.values[l], 1, T, pos0 + T, NH, NH, HS, 0);
            }
            k.matmul(s.tmpC, s.atty[l], wproj[l].weight, bproj[l].value, N, C, C);
            k.add(s.xm[l], s.x[l], s.tmpC, (long) N * C);
            k.layernorm(s.xn2[l], s.mean2[l], s.rstd2[l], s.xm[l], ln2w[l].value, ln2b[l].value, N, C, cfg.normEps());
            k.matmul(s.fch[l], s.xn2[l], wfc[l].weight, bfc[l].value, N, C, F);
            k.gelu(s.fcg[l], s.fch[l], (long) N * F);
            k.matmul(s.tmpC, s.fcg[l], wfp[l].weight, bfp[l].value, N, F, C);
            k.add(s.x[l + 1], s.xm[l], s.tmpC, (long) N * C);
        }
        k.layernorm(s.xf, s.meanf, s.rstdf, s.x[L], lnfw.value, lnfb.value, N, C, cfg.normEps());
        k.matmul(s.logits, s.xf, wte.weight, null, N, C, V);
        if (cache != null) {
            cache.length += T;
        }
        return s.logits;
    }

    private Buf dres, dxn, dq, dk, dv, datty, dfcg, dfch;
    private int gradN = -1;

    private void gradScratch(int N) {
        if (gradN == N) {
            return;
        }
        for (Buf x : new Buf[] {dres, dxn, dq, dk, dv, datty, dfcg, dfch}) {
            if (x != null) {
                x.close();
            }
        }
        dres = k.alloc((long) N * C); dxn = k.alloc((long) N * C);
        dq = k.alloc((long) N * C); dk = k.alloc((long) N * C); dv = k.alloc((long) N * C);
        datty = k.alloc((long) N * C); dfcg = k.alloc((long) N * F); dfch = k.alloc((long) N * F);
        gradN = N;
    }

    private Buf g(Param p) {
        return p.grad(k);
    }

    @Override
    protected void backward(int[] ids, Buf dlogits) {
        Acts s = a;
        int B = s.B, T = s.T, N = s.N;
        gradScratch(N);
        k.zero(dxn);
        k.matmulBackward(dxn, g(wte), null, dlogits, s.xf, wte.weight, N, C, V);
        k.zero(dres);
        k.layernormBackward(dres, g(lnfw), g(lnfb), dxn, s.x[L], lnfw.value, s.meanf, s.rstdf, N, C);
        for (int l = L - 1; l >= 0; l--) {
            // MLP: x[l+1] = xm + proj(gelu(fc(ln2(xm)))); dres holds d x[l+1]
            k.zero(dfcg);
            k.matmulBackward(dfcg, g(wfp[l]), g(bfp[l]), dres, s.fcg[l], wfp[l].weight, N, F, C);
            k.zero(dfch);
            k.geluBackward(dfch, dfcg, s.fch[l], (long) N * F);
            k.zero(dxn);
            k.matmulBackward(dxn, g(wfc[l]), g(bfc[l]), dfch, s.xn2[l], wfc[l].weight, N, C, F);
            k.layernormBackward(dres, g(ln2w[l]), g(ln2b[l]), dxn, s.xm[l], ln2w[l].value, s.mean2[l], s.rstd2[l], N, C);
            // attention: xm = x + proj(attn(q, k, v))
            k.zero(datty);
            k.matmulBackward(datty, g(wproj[l]), g(bproj[l]), dres, s.atty[l], wproj[l].weight, N, C, C);
            k.zero(dq);
            k.zero(dk);
            k.zero(dv);
            k.attentionBackward(dq, dk, dv, datty, s.att[l], s.q[l], s.kk[l], s.vv[l], B, T, NH, NH, HS);
            if (qkvGrad != null && qkvGrad[l] != null) { // distillation: gradients of q, k, v
                k.add(dq, dq, qkvGrad[l][0], (long) N * C); k.add(dk, dk, qkvGrad[l][1], (long) N * C); k.add(dv, dv, qkvGrad[l][2], (long) N * C);
            }
            k.zero(dxn);
            k.matmulBackward(dxn, g(wq[l]), g(bq[l]), dq, s.xn1[l], wq[l].weight, N, C, C);
            k.matmulBackward(dxn, g(wk[l]), g(bk[l]), dk, s.xn1[l], wk[l].weight, N, C, C);
            k.matmulBackward(dxn, g(wv[l]), g(bv[l]), dv, s.xn1[l], wv[l].weight, N, C, C);
            k.layernormBackward(dres, g(ln1w[l]), g(ln1b[l]), dxn, s.x[l], ln1w[l].value, s.mean1[l], s.rstd1[l], N, C);
        }
        k.embeddingBackward(g(wte), g(wpe), dres, ids, B, T, C);
    }

    @Override
    public Buf[] qkv(int l) {
        return new Buf[] {a.q[l], a.kk[l], a.vv[l]};
    }

    @Override
    public Buf hidden(int i) {
        return i == L ? a.xf : a.x[i];
    }

    @Override
    public KvCache newCache(int maxLen) {
        return newCache(L, C, maxLen);
    }

    @Override
    public void close() {
        if (a != null) {
            a.close();
        }
        super.close();
    }
}
