package bitnet.engine.model;

import bitnet.io.ModelConfig;
import bitnet.kernels.Buf;
import bitnet.kernels.Kernels;

/**
 * The Llama family (Llama 1-3, Mistral, Qwen2, Qwen3; Phi-3 by its tensor names in {@link
 * Phi3Model}): RMSNorm, RoPE (default, linear, llama3, longrope; partial), grouped-query
 * attention, SwiGLU, optional q/k/v/o biases, Qwen3's per-head q/k RMSNorm before RoPE, tied or
 * untied head. Forward is a flat list of kernel calls per layer; backward is its mirror.
 */
public class LlamaModel extends Model {
    protected final int L, C, NH, NKV, HS, I, V, QD, KVD;
    private final boolean qkNorm; // Qwen3
    // parameters, per layer
    protected final Param wte, head, normF;
    protected final Param[] ln1, ln2, wq, wk, wv, wo, bq, bk, bv, bo, wg, wu, wd, qn, kn;
    private final RopeTable ropeShort, ropeLong; // the same table unless longrope
    // activations (allocate), per layer unless noted
    private Buf[] xn1, rstd1; // (N, C), (N)
    private Buf[] qp, kp, rq, rk; // (N, QD), (N, KVD) projections before the q/k norm; (N*NH), (N*NKV)
    private Buf[] q, kk, vv; // (N, QD), (N, KVD), (N, KVD) after RoPE
    private Buf[] att, atty; // attention state, (N, QD)
    private Buf[] xm, xn2, rstd2; // (N, C) residual after attention, (N, C), (N)
    private Buf[] gate, up, hmid; // (N, I)
    private Buf tmpC, rstdf; // (N, C) projection scratch, (N)
    // gradient scratch
    private Buf dres, dxn, dq, dk, dv, dqp, dkp, datty, dgate, dup, dh;

    public LlamaModel(ModelConfig cfg, Kernels k) {
        super(cfg, k);
        L = cfg.numLayers();
        C = cfg.hiddenSize();
        NH = cfg.numHeads();
        NKV = cfg.numKvHeads();
        HS = cfg.headDim();
        I = cfg.intermediateSize();
        V = cfg.vocabSize();
        QD = NH * HS;
        KVD = NKV * HS;
        qkNorm = cfg.family() == ModelConfig.Family.QWEN3;
        wte = hf("model.embed_tokens.weight", Param.Kind.EMBEDDING, new long[] {V, C}, V, C);
        ln1 = new Param[L];
        ln2 = new Param[L];
        wq = new Param[L];
        wk = new Param[L];
        wv = new Param[L];
        wo = new Param[L];
        bq = new Param[L];
        bk = new Param[L];
        bv = new Param[L];
        bo = new Param[L];
        wg = new Param[L];
        wu = new Param[L];
        wd = new Param[L];
        qn = new Param[L];
        kn = new Param[L];
        for (int l = 0; l < L; l++) {
            String p = "model.layers." + l + ".";
            ln1[l] = hf(p + "input_layernorm.weight", Param.Kind.NORM, new long[] {C}, 1, C);
            declareAttention(l, p + "self_attn.");
            if (qkNorm) {
                qn[l] = hf(p + "self_attn.q_norm.weight", Param.Kind.NORM, new long[] {HS}, 1, HS);
                kn[l] = hf(p + "self_attn.k_norm.weight", Param.Kind.NORM, new long[] {HS}, 1, HS);
            }
            ln2[l] = hf(p + "post_attention_layernorm.weight", Param.Kind.NORM, new long[] {C}, 1, C);
            declareMlp(l, p + "mlp.");
        }
        normF = hf("model.norm.weight", Param.Kind.NORM, new long[] {C}, 1, C);
        head = cfg.tieWordEmbeddings() ? wte : hf("lm_head.weight", Param.Kind.HEAD, new long[] {V, C}, V, C);
        ModelConfig.Rope r = cfg.rope();
        ropeShort = RopeTable.of(k, r, cfg.dtype(), HS, cfg.maxPositions(), false);
        boolean longrope = r.type().equals("longrope");
        ropeLong = longrope ? RopeTable.of(k, r, cfg.dtype(), HS, cfg.maxPositions(), true) : ropeShort;
        restartAt = longrope ? r.originalMaxPositions() : 0;
    }

    /** q, k, v, o projections of layer l under their HF names (prefix ends in "self_attn."). */
    protected void declareAttention(int l, String p) {
        wq[l] = hf(p + "q_proj.weight", Param.Kind.LINEAR, new long[] {QD, C}, QD, C);
        wk[l] = hf(p + "k_proj.weight", Param.Kind.LINEAR, new long[] {KVD, C}, KVD, C);
        wv[l] = hf(p + "v_proj.weight", Param.Kind.LINEAR, new long[] {KVD, C}, KVD, C);
        if (cfg.qkvBias()) {
            bq[l] = hf(p + "q_proj.bias", Param.Kind.BIAS, new long[] {QD}, 1, QD);
            bk[l] = hf(p + "k_proj.bias", Param.Kind.BIAS, new long[] {KVD}, 1, KVD);
            bv[l] = hf(p + "v_proj.bias", Param.Kind.BIAS, new long[] {KVD}, 1, KVD);
        }
        wo[l] = hf(p + "o_proj.weight", Param.Kind.LINEAR, new long[] {C, QD}, C, QD);
        if (cfg.oBias()) {
            bo[l] = hf(p + "o_proj.bias", Param.Kind.BIAS, new long[] {C}, 1, C);
        }
    }

    /** gate, up, down projections of layer l (prefix ends in "mlp."). */
    protected void declareMlp(int l, String p) {
        wg[l] = hf(p + "gate_proj.weight", Param.Kind.LINEAR, new long[] {I, C}, I, C);
        wu[l] = hf(p + "up_proj.weight", Param.Kind.LINEAR, new long[] {I, C}, I, C);
        wd[l] = hf(p + "down_proj.weight", Param.Kind.LINEAR, new long[] {C, I}, C, I);
    }

    @Override
    protected void allocate(boolean keepAtt) {
        xn1 = acts((long) N * C);
        rstd1 = acts(N);
        if (qkNorm) {
            qp = acts((long) N * QD);
            kp = acts((long) N * KVD);
            rq = acts((long) N * NH);
            rk = acts((long) N * NKV);
        }
        q = acts((long) N * QD);
        kk = acts((long) N * KVD);
        vv = acts((long) N * KVD);
        att = attStates(NH, keepAtt);
        atty = acts((long) N * QD);
        xm = acts((long) N * C);
        xn2 = acts((long) N * C);
        rstd2 = acts(N);
        gate = acts((long) N * I);
        up = acts((long) N * I);
        hmid = acts((long) N * I);
        tmpC = act((long) N * C);
        rstdf = act(N);
    }

    @Override
    protected void allocateGrads() {
        dres = scratch((long) N * C);
        dxn = scratch((long) N * C);
        dq = scratch((long) N * QD);
        dk = scratch((long) N * KVD);
        dv = scratch((long) N * KVD);
        dqp = qkNorm ? scratch((long) N * QD) : dq;
        dkp = qkNorm ? scratch((long) N * KVD) : dk;
        datty = scratch((long) N * QD);
        dgate = scratch((long) N * I);
        dup = scratch((long) N * I);
        dh = scratch((long) N * I);
    }

    @Override
    public Attention attention(int l) {
        return new Attention(q[l], kk[l], vv[l], NH, NKV, HS);
    }

    @Override
    protected int kvDim() {
        return KVD;
    }

    @Override
    protected void forwardPass(int[] ids, int pos0, KvCache cache) {
        float eps = cfg.normEps();
        RopeTable rope = pos0 + T > restartAt && restartAt > 0 ? ropeLong : ropeShort;
        k.embedding(x[0], ids, wte.weight, null, B, T, C, 0);
        for (int l = 0; l < L; l++) {
            k.rmsnorm(xn1[l], rstd1[l], x[l], ln1[l].value, N, C, eps);
            k.matmul(qkNorm ? qp[l] : q[l], xn1[l], wq[l].weight, b(bq[l]), N, C, QD);
            k.matmul(qkNorm ? kp[l] : kk[l], xn1[l], wk[l].weight, b(bk[l]), N, C, KVD);
            k.matmul(vv[l], xn1[l], wv[l].weight, b(bv[l]), N, C, KVD);
            if (qkNorm) { // RMSNorm over each head's HS values
                k.rmsnorm(q[l], rq[l], qp[l], qn[l].value, N * NH, HS, eps);
                k.rmsnorm(kk[l], rk[l], kp[l], kn[l].value, N * NKV, HS, eps);
            }
            rope.apply(k, q[l], B, T, NH, HS, pos0);
            rope.apply(k, kk[l], B, T, NKV, HS, pos0);
            attend(l, atty[l], att[l], q[l], kk[l], vv[l], cache, pos0, NH, NKV, HS, cfg.window(l));
            k.matmul(tmpC, atty[l], wo[l].weight, b(bo[l]), N, QD, C);
            k.add(xm[l], x[l], tmpC, (long) N * C);
            k.rmsnorm(xn2[l], rstd2[l], xm[l], ln2[l].value, N, C, eps);
            k.matmul(gate[l], xn2[l], wg[l].weight, null, N, C, I);
            k.matmul(up[l], xn2[l], wu[l].weight, null, N, C, I);
            k.swiglu(hmid[l], gate[l], up[l], (long) N * I);
            k.matmul(tmpC, hmid[l], wd[l].weight, null, N, I, C);
            k.add(x[l + 1], xm[l], tmpC, (long) N * C);
        }
        k.rmsnorm(xf, rstdf, x[L], normF.value, N, C, eps);
    }

    @Override
    protected Param head() {
        return head;
    }

    @Override
    protected void backwardPass(int[] ids, Buf dxf) {
        RopeTable rope = T > restartAt && restartAt > 0 ? ropeLong : ropeShort;
        k.zero(dres);
        k.rmsnormBackward(dres, g(normF), dxf, x[L], normF.value, rstdf, N, C);
        for (int l = L - 1; l >= 0; l--) {
            // MLP: x[l+1] = xm + down(swiglu(gate(xn2), up(xn2))); dres holds d x[l+1]
            k.zero(dh);
            k.matmulBackward(dh, g(wd[l]), null, dres, hmid[l], wd[l].weight, N, I, C);
            k.zero(dgate);
            k.zero(dup);
            k.swigluBackward(dgate, dup, dh, gate[l], up[l], (long) N * I);
            k.zero(dxn);
            k.matmulBackward(dxn, g(wg[l]), null, dgate, xn2[l], wg[l].weight, N, C, I);
            k.matmulBackward(dxn, g(wu[l]), null, dup, xn2[l], wu[l].weight, N, C, I);
            k.rmsnormBackward(dres, g(ln2[l]), dxn, xm[l], ln2[l].value, rstd2[l], N, C); // dres = d xm
            // attention: xm = x + o(attn(rope(norm(q(xn1))), rope(norm(k(xn1))), v(xn1)))
            k.zero(datty);
            k.matmulBackward(datty, g(wo[l]), g(bo[l]), dres, atty[l], wo[l].weight, N, QD, C);
            k.zero(dq);
            k.zero(dk);
            k.zero(dv);
            attentionBackward(l, dq, dk, dv, datty, att[l], q[l], kk[l], vv[l], B, T, NH, NKV, HS);
            rope.backward(k, dq, B, T, NH, HS);
            rope.backward(k, dk, B, T, NKV, HS);
            if (qkNorm) {
                k.zero(dqp);
                k.zero(dkp);
                k.rmsnormBackward(dqp, g(qn[l]), dq, qp[l], qn[l].value, rq[l], N * NH, HS);
                k.rmsnormBackward(dkp, g(kn[l]), dk, kp[l], kn[l].value, rk[l], N * NKV, HS);
            }
            k.zero(dxn);
            k.matmulBackward(dxn, g(wq[l]), g(bq[l]), dqp, xn1[l], wq[l].weight, N, C, QD);
            k.matmulBackward(dxn, g(wk[l]), g(bk[l]), dkp, xn1[l], wk[l].weight, N, C, KVD);
            k.matmulBackward(dxn, g(wv[l]), g(bv[l]), dv, xn1[l], wv[l].weight, N, C, KVD);
            k.rmsnormBackward(dres, g(ln1[l]), dxn, x[l], ln1[l].value, rstd1[l], N, C); // dres = d x[l]
        }
        embeddingBackward(wte, null, dres, ids, cfg.extra().padTokenId());
    }

    @Override
    public void close() {
        ropeShort.close();
        if (ropeLong != ropeShort) {
            ropeLong.close();
        }
        super.close();
    }
}
