package bitnet.engine.model;

import bitnet.io.ModelConfig;
import bitnet.kernels.Buf;
import bitnet.kernels.Kernels;

/**
 * GPT-NeoX (Pythia): LayerNorm with biases, fused query_key_value whose rows interleave q, k, v
 * per head ([h][q, k, v][HS], its bias alike; split here into q, k, v weights), partial rotary
 * (rotary_pct of each head), dense with bias, exact-erf GELU MLP with biases, parallel
 * (x + attn(ln1(x)) + mlp(ln2(x))) or sequential residual, untied head stored as embed_out.
 */
public final class GptNeoxModel extends Model {
    private final int L, C, NH, HS, F, V;
    private final boolean parallel;
    private final Param wte, head, lnfw, lnfb;
    private final Param[] ln1w, ln1b, wq, wk, wv, bq, bk, bv, wo, bo, ln2w, ln2b, wfc, bfc, wfp, bfp;
    private final RopeTable rope;
    // activations (allocate), per layer unless noted
    private Buf[] xn1, mean1, rstd1; // (N, C), (N), (N)
    private Buf[] q, kk, vv, att, atty; // (N, C) x3 after RoPE, attention state, (N, C)
    private Buf[] xm; // (N, C) x + attention (sequential residual only)
    private Buf[] xn2, mean2, rstd2; // (N, C), (N), (N)
    private Buf[] fch, fcg; // (N, F) pre- and post-gelu
    private Buf ao, fo, meanf, rstdf; // (N, C) attention and MLP outputs, (N), (N)
    // gradient scratch
    private Buf dres, dxn, dq, dk, dv, datty, dfcg, dfch;

    public GptNeoxModel(ModelConfig cfg, Kernels k) {
        super(cfg, k);
        L = cfg.numLayers();
        C = cfg.hiddenSize();
        NH = cfg.numHeads();
        HS = cfg.headDim();
        F = cfg.intermediateSize();
        V = cfg.vocabSize();
        parallel = cfg.extra().parallelResidual();
        boolean bias = cfg.qkvBias();
        wte = hf("gpt_neox.embed_in.weight", Param.Kind.EMBEDDING, new long[] {V, C}, V, C);
        ln1w = new Param[L];
        ln1b = new Param[L];
        wq = new Param[L];
        wk = new Param[L];
        wv = new Param[L];
        bq = new Param[L];
        bk = new Param[L];
        bv = new Param[L];
        wo = new Param[L];
        bo = new Param[L];
        ln2w = new Param[L];
        ln2b = new Param[L];
        wfc = new Param[L];
        bfc = new Param[L];
        wfp = new Param[L];
        bfp = new Param[L];
        int[][] qkvRows = new int[3][C]; // row h*3*HS + j*HS + d of the fused tensor is part j, row h*HS + d
        for (int h = 0; h < NH; h++) {
            for (int j = 0; j < 3; j++) {
                for (int d = 0; d < HS; d++) {
                    qkvRows[j][h * HS + d] = h * 3 * HS + j * HS + d;
                }
            }
        }
        String[] qkv = {"q", "k", "v"};
        for (int l = 0; l < L; l++) {
            String p = "gpt_neox.layers." + l + ".";
            ln1w[l] = hf(p + "input_layernorm.weight", Param.Kind.NORM, new long[] {C}, 1, C);
            ln1b[l] = hf(p + "input_layernorm.bias", Param.Kind.BIAS, new long[] {C}, 1, C);
            Param[] w = hfRows(
                    p + "attention.query_key_value.weight", Param.Kind.LINEAR, new long[] {3L * C, C}, qkv, qkvRows);
            wq[l] = w[0];
            wk[l] = w[1];
            wv[l] = w[2];
            if (bias) {
                Param[] b = hfRows(
                        p + "attention.query_key_value.bias", Param.Kind.BIAS, new long[] {3L * C}, qkv, qkvRows);
                bq[l] = b[0];
                bk[l] = b[1];
                bv[l] = b[2];
            }
            wo[l] = hf(p + "attention.dense.weight", Param.Kind.LINEAR, new long[] {C, C}, C, C);
            bo[l] = bias ? hf(p + "attention.dense.bias", Param.Kind.BIAS, new long[] {C}, 1, C) : null;
            ln2w[l] = hf(p + "post_attention_layernorm.weight", Param.Kind.NORM, new long[] {C}, 1, C);
            ln2b[l] = hf(p + "post_attention_layernorm.bias", Param.Kind.BIAS, new long[] {C}, 1, C);
            wfc[l] = hf(p + "mlp.dense_h_to_4h.weight", Param.Kind.LINEAR, new long[] {F, C}, F, C);
            bfc[l] = hf(p + "mlp.dense_h_to_4h.bias", Param.Kind.BIAS, new long[] {F}, 1, F);
            wfp[l] = hf(p + "mlp.dense_4h_to_h.weight", Param.Kind.LINEAR, new long[] {C, F}, C, F);
            bfp[l] = hf(p + "mlp.dense_4h_to_h.bias", Param.Kind.BIAS, new long[] {C}, 1, C);
        }
        lnfw = hf("gpt_neox.final_layer_norm.weight", Param.Kind.NORM, new long[] {C}, 1, C);
        lnfb = hf("gpt_neox.final_layer_norm.bias", Param.Kind.BIAS, new long[] {C}, 1, C);
        head = cfg.tieWordEmbeddings() ? wte : hf("embed_out.weight", Param.Kind.HEAD, new long[] {V, C}, V, C);
        rope = RopeTable.of(k, cfg.rope(), cfg.dtype(), HS, cfg.maxPositions(), false);
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
        xm = parallel ? null : acts(nc);
        xn2 = acts(nc);
        mean2 = acts(N);
        rstd2 = acts(N);
        fch = acts((long) N * F);
        fcg = acts((long) N * F);
        ao = act(nc);
        fo = act(nc);
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

    /** The MLP's input: x[l] with the parallel residual, x + attention otherwise. */
    private Buf mlpIn(int l) {
        return parallel ? x[l] : xm[l];
    }

    @Override
    protected void forwardPass(int[] ids, int pos0, KvCache cache) {
        float eps = cfg.normEps();
        long nc = (long) N * C;
        k.embedding(x[0], ids, wte.weight, null, B, T, C, 0);
        for (int l = 0; l < L; l++) {
            k.layernorm(xn1[l], mean1[l], rstd1[l], x[l], ln1w[l].value, ln1b[l].value, N, C, eps);
            k.matmul(q[l], xn1[l], wq[l].weight, b(bq[l]), N, C, C);
            k.matmul(kk[l], xn1[l], wk[l].weight, b(bk[l]), N, C, C);
            k.matmul(vv[l], xn1[l], wv[l].weight, b(bv[l]), N, C, C);
            rope.apply(k, q[l], B, T, NH, HS, pos0);
            rope.apply(k, kk[l], B, T, NH, HS, pos0);
            attend(l, atty[l], att[l], q[l], kk[l], vv[l], cache, pos0, NH, NH, HS, 0);
            k.matmul(ao, atty[l], wo[l].weight, b(bo[l]), N, C, C);
            if (!parallel) {
                k.add(xm[l], ao, x[l], nc);
            }
            k.layernorm(xn2[l], mean2[l], rstd2[l], mlpIn(l), ln2w[l].value, ln2b[l].value, N, C, eps);
            k.matmul(fch[l], xn2[l], wfc[l].weight, bfc[l].value, N, C, F);
            k.geluErf(fcg[l], fch[l], (long) N * F);
            k.matmul(fo, fcg[l], wfp[l].weight, bfp[l].value, N, F, C);
            if (parallel) { // (mlp + attn) + x, HF's order
                k.add(fo, fo, ao, nc);
                k.add(x[l + 1], fo, x[l], nc);
            } else {
                k.add(x[l + 1], fo, xm[l], nc);
            }
        }
        k.layernorm(xf, meanf, rstdf, x[L], lnfw.value, lnfb.value, N, C, eps);
    }

    @Override
    protected Param head() {
        return head;
    }

    @Override
    protected void backwardPass(int[] ids, Buf dxf) {
        k.zero(dres);
        k.layernormBackward(dres, g(lnfw), g(lnfb), dxf, x[L], lnfw.value, meanf, rstdf, N, C);
        for (int l = L - 1; l >= 0; l--) {
            // dres holds d x[l+1]; parallel: the attention's output gradient is dres too, read before
            // the MLP's norm adds into dres
            if (parallel) {
                k.zero(datty);
                k.matmulBackward(datty, g(wo[l]), g(bo[l]), dres, atty[l], wo[l].weight, N, C, C);
            }
            // MLP: + proj(gelu(fc(ln2(mlpIn))))
            k.zero(dfcg);
            k.matmulBackward(dfcg, g(wfp[l]), g(bfp[l]), dres, fcg[l], wfp[l].weight, N, F, C);
            k.zero(dfch);
            k.geluErfBackward(dfch, dfcg, fch[l], (long) N * F);
            k.zero(dxn);
            k.matmulBackward(dxn, g(wfc[l]), g(bfc[l]), dfch, xn2[l], wfc[l].weight, N, C, F);
            k.layernormBackward(dres, g(ln2w[l]), g(ln2b[l]), dxn, mlpIn(l), ln2w[l].value, mean2[l], rstd2[l], N, C);
            if (!parallel) { // dres = d xm = d (attn + x)
                k.zero(datty);
                k.matmulBackward(datty, g(wo[l]), g(bo[l]), dres, atty[l], wo[l].weight, N, C, C);
            }
            // attention: + dense(attn(rope(q), rope(k), v)) of ln1(x)
            k.zero(dq);
            k.zero(dk);
            k.zero(dv);
            attentionBackward(l, dq, dk, dv, datty, att[l], q[l], kk[l], vv[l], B, T, NH, NH, HS);
            rope.backward(k, dq, B, T, NH, HS);
            rope.backward(k, dk, B, T, NH, HS);
            k.zero(dxn);
            k.matmulBackward(dxn, g(wq[l]), g(bq[l]), dq, xn1[l], wq[l].weight, N, C, C);
            k.matmulBackward(dxn, g(wk[l]), g(bk[l]), dk, xn1[l], wk[l].weight, N, C, C);
            k.matmulBackward(dxn, g(wv[l]), g(bv[l]), dv, xn1[l], wv[l].weight, N, C, C);
            k.layernormBackward(dres, g(ln1w[l]), g(ln1b[l]), dxn, x[l], ln1w[l].value, mean1[l], rstd1[l], N, C);
        }
        embeddingBackward(wte, null, dres, ids, null);
    }

    @Override
    public void close() {
        rope.close();
        super.close();
    }
}
