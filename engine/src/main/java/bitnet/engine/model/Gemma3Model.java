package bitnet.engine.model;

import bitnet.io.DType;
import bitnet.io.ModelConfig;
import bitnet.kernels.Buf;
import bitnet.kernels.Kernels;

/**
 * Gemma 3 (text): embeddings times sqrt(C) rounded to the model's dtype; RMSNorm with (1 + w)
 * in FP32 (the kernels' RMSNorm runs on a buffer holding 1 + w, whose gradient is w's); four
 * norms per block (input, post_attention, pre_feedforward, post_feedforward) and per-head q/k
 * norms before RoPE; attention scaled by query_pre_attn_scalar^-0.5 (q is pre-scaled so the
 * kernel's HS^-0.5 gives it); sliding-window layers with their own RoPE base; GeGLU (tanh GELU);
 * optional final-logit soft-capping; tied head by default. The padding row gets no gradient
 * from the lookup.
 */
public final class Gemma3Model extends Model {
    private final int L, C, NH, NKV, HS, I, V, QD, KVD;
    private final float embedScale, qScale, softcap;
    private final Param wte, head;
    private final Norm normF;
    private final Norm[] ln1, postAttn, preFf, postFf, qn, kn;
    private final Param[] wq, wk, wv, wo, wg, wu, wd;
    private final RopeTable ropeFull, ropeLocal;
    private final Buf ones; // (max(C, HS)) ones, for 1 + w
    // activations (allocate), per layer unless noted
    private Buf[] xn1, rstd1; // (N, C), (N)
    private Buf[] qp, kp, rq, rk; // (N, QD), (N, KVD) before q/k norm; (N*NH), (N*NKV)
    private Buf[] q, kk, vv, att, atty; // after norm and RoPE (q also scaled), attention state, (N, QD)
    private Buf[] ao, ra, xm; // (N, C) o_proj output, (N) its norm's rstd, (N, C) residual
    private Buf[] xn2, rstd2; // (N, C), (N)
    private Buf[] gate, up, hmid, fo, rf; // (N, I) x3, (N, C) down output, (N) its norm's rstd
    private Buf tmpC, rstdf; // (N, C), (N)
    // gradient scratch
    private Buf dres, dxn, dc, dq, dk, dv, dqp, dkp, datty, dgate, dup, dh;

    /** A Gemma RMSNorm weight w and the buffer 1 + w that the kernels multiply by. */
    private record Norm(Param p, Buf w1) {}

    public Gemma3Model(ModelConfig cfg, Kernels k) {
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
        ModelConfig.Extra ex = cfg.extra();
        float s = (float) Math.sqrt(C);
        embedScale = switch (cfg.dtype() == null ? "" : cfg.dtype()) {
            case "bfloat16" -> DType.bf16ToFloat(DType.floatToBf16(s));
            case "float16" -> Float.float16ToFloat(Float.floatToFloat16(s));
            default -> s;
        };
        qScale = ex.queryPreAttnScalar() > 0 ? (float) Math.sqrt(HS / ex.queryPreAttnScalar()) : 1f;
        softcap = (float) ex.finalSoftcap();
        ones = k.upload(filled(Math.max(C, HS)));
        wte = hf("model.embed_tokens.weight", Param.Kind.EMBEDDING, new long[] {V, C}, V, C);
        ln1 = new Norm[L];
        postAttn = new Norm[L];
        preFf = new Norm[L];
        postFf = new Norm[L];
        qn = new Norm[L];
        kn = new Norm[L];
        wq = new Param[L];
        wk = new Param[L];
        wv = new Param[L];
        wo = new Param[L];
        wg = new Param[L];
        wu = new Param[L];
        wd = new Param[L];
        for (int l = 0; l < L; l++) {
            String p = "model.layers." + l + ".";
            ln1[l] = norm(p + "input_layernorm.weight", C);
            wq[l] = hf(p + "self_attn.q_proj.weight", Param.Kind.LINEAR, new long[] {QD, C}, QD, C);
            wk[l] = hf(p + "self_attn.k_proj.weight", Param.Kind.LINEAR, new long[] {KVD, C}, KVD, C);
            wv[l] = hf(p + "self_attn.v_proj.weight", Param.Kind.LINEAR, new long[] {KVD, C}, KVD, C);
            wo[l] = hf(p + "self_attn.o_proj.weight", Param.Kind.LINEAR, new long[] {C, QD}, C, QD);
            qn[l] = norm(p + "self_attn.q_norm.weight", HS);
            kn[l] = norm(p + "self_attn.k_norm.weight", HS);
            postAttn[l] = norm(p + "post_attention_layernorm.weight", C);
            preFf[l] = norm(p + "pre_feedforward_layernorm.weight", C);
            postFf[l] = norm(p + "post_feedforward_layernorm.weight", C);
            wg[l] = hf(p + "mlp.gate_proj.weight", Param.Kind.LINEAR, new long[] {I, C}, I, C);
            wu[l] = hf(p + "mlp.up_proj.weight", Param.Kind.LINEAR, new long[] {I, C}, I, C);
            wd[l] = hf(p + "mlp.down_proj.weight", Param.Kind.LINEAR, new long[] {C, I}, C, I);
        }
        normF = norm("model.norm.weight", C);
        head = cfg.tieWordEmbeddings() ? wte : hf("lm_head.weight", Param.Kind.HEAD, new long[] {V, C}, V, C);
        ropeFull = RopeTable.of(k, cfg.rope(), cfg.dtype(), HS, cfg.maxPositions(), false);
        ModelConfig.Rope local = ex.localRope() == null ? cfg.rope() : ex.localRope();
        ropeLocal = RopeTable.of(k, local, cfg.dtype(), HS, cfg.maxPositions(), false);
    }

    private Norm norm(String name, int n) {
        return new Norm(hf(name, Param.Kind.NORM, new long[] {n}, 1, n), k.alloc(n));
    }

    private static float[] filled(int n) {
        float[] a = new float[n];
        java.util.Arrays.fill(a, 1f);
        return a;
    }

    private RopeTable rope(int l) {
        return cfg.window(l) > 0 ? ropeLocal : ropeFull;
    }

    @Override
    protected void allocate(boolean keepAtt) {
        long nc = (long) N * C;
        xn1 = acts(nc);
        rstd1 = acts(N);
        qp = acts((long) N * QD);
        kp = acts((long) N * KVD);
        rq = acts((long) N * NH);
        rk = acts((long) N * NKV);
        q = acts((long) N * QD);
        kk = acts((long) N * KVD);
        vv = acts((long) N * KVD);
        att = attStates(NH, keepAtt);
        atty = acts((long) N * QD);
        ao = acts(nc);
        ra = acts(N);
        xm = acts(nc);
        xn2 = acts(nc);
        rstd2 = acts(N);
        gate = acts((long) N * I);
        up = acts((long) N * I);
        hmid = acts((long) N * I);
        fo = acts(nc);
        rf = acts(N);
        tmpC = act(nc);
        rstdf = act(N);
    }

    @Override
    protected void allocateGrads() {
        long nc = (long) N * C;
        dres = scratch(nc);
        dxn = scratch(nc);
        dc = scratch(nc);
        dq = scratch((long) N * QD);
        dk = scratch((long) N * KVD);
        dv = scratch((long) N * KVD);
        dqp = scratch((long) N * QD);
        dkp = scratch((long) N * KVD);
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

    /** out = RMSNorm(inp) * (1 + w). */
    private void rms(Buf out, Buf rstd, Buf inp, Norm n, int rows, int c) {
        k.rmsnorm(out, rstd, inp, n.w1, rows, c, cfg.normEps());
    }

    @Override
    protected void forwardPass(int[] ids, int pos0, KvCache cache) {
        for (Norm n : allNorms()) { // 1 + w, refreshed because training moves w
            k.add(n.w1, ones, n.p.value, n.p.size());
        }
        k.embedding(x[0], ids, wte.weight, null, B, T, C, 0);
        k.scale(x[0], (long) N * C, embedScale);
        for (int l = 0; l < L; l++) {
            rms(xn1[l], rstd1[l], x[l], ln1[l], N, C);
            k.matmul(qp[l], xn1[l], wq[l].weight, null, N, C, QD);
            k.matmul(kp[l], xn1[l], wk[l].weight, null, N, C, KVD);
            k.matmul(vv[l], xn1[l], wv[l].weight, null, N, C, KVD);
            rms(q[l], rq[l], qp[l], qn[l], N * NH, HS);
            rms(kk[l], rk[l], kp[l], kn[l], N * NKV, HS);
            rope(l).apply(k, q[l], B, T, NH, HS, pos0);
            rope(l).apply(k, kk[l], B, T, NKV, HS, pos0);
            k.scale(q[l], (long) N * QD, qScale);
            attend(l, atty[l], att[l], q[l], kk[l], vv[l], cache, pos0, NH, NKV, HS, cfg.window(l));
            k.matmul(ao[l], atty[l], wo[l].weight, null, N, QD, C);
            rms(tmpC, ra[l], ao[l], postAttn[l], N, C);
            k.add(xm[l], x[l], tmpC, (long) N * C);
            rms(xn2[l], rstd2[l], xm[l], preFf[l], N, C);
            k.matmul(gate[l], xn2[l], wg[l].weight, null, N, C, I);
            k.matmul(up[l], xn2[l], wu[l].weight, null, N, C, I);
            k.geglu(hmid[l], gate[l], up[l], (long) N * I);
            k.matmul(fo[l], hmid[l], wd[l].weight, null, N, I, C);
            rms(tmpC, rf[l], fo[l], postFf[l], N, C);
            k.add(x[l + 1], xm[l], tmpC, (long) N * C);
        }
        rms(xf, rstdf, x[L], normF, N, C);
    }

    @Override
    protected Param head() {
        return head;
    }

    @Override
    protected float logitSoftcap() {
        return softcap;
    }

    @Override
    protected void backwardPass(int[] ids, Buf dxf) {
        k.zero(dres);
        k.rmsnormBackward(dres, g(normF.p), dxf, x[L], normF.w1, rstdf, N, C);
        for (int l = L - 1; l >= 0; l--) {
            // MLP: x[l+1] = xm + postFf(down(geglu(gate(xn2), up(xn2)))), xn2 = preFf(xm); dres holds d x[l+1]
            k.zero(dc);
            k.rmsnormBackward(dc, g(postFf[l].p), dres, fo[l], postFf[l].w1, rf[l], N, C);
            k.zero(dh);
            k.matmulBackward(dh, g(wd[l]), null, dc, hmid[l], wd[l].weight, N, I, C);
            k.zero(dgate);
            k.zero(dup);
            k.gegluBackward(dgate, dup, dh, gate[l], up[l], (long) N * I);
            k.zero(dxn);
            k.matmulBackward(dxn, g(wg[l]), null, dgate, xn2[l], wg[l].weight, N, C, I);
            k.matmulBackward(dxn, g(wu[l]), null, dup, xn2[l], wu[l].weight, N, C, I);
            k.rmsnormBackward(dres, g(preFf[l].p), dxn, xm[l], preFf[l].w1, rstd2[l], N, C); // dres = d xm
            // attention: xm = x + postAttn(o(attn(q, k, v)))
            k.zero(dc);
            k.rmsnormBackward(dc, g(postAttn[l].p), dres, ao[l], postAttn[l].w1, ra[l], N, C);
            k.zero(datty);
            k.matmulBackward(datty, g(wo[l]), null, dc, atty[l], wo[l].weight, N, QD, C);
            k.zero(dq);
            k.zero(dk);
            k.zero(dv);
            attentionBackward(l, dq, dk, dv, datty, att[l], q[l], kk[l], vv[l], B, T, NH, NKV, HS);
            k.scale(dq, (long) N * QD, qScale);
            rope(l).backward(k, dq, B, T, NH, HS);
            rope(l).backward(k, dk, B, T, NKV, HS);
            k.zero(dqp);
            k.zero(dkp);
            k.rmsnormBackward(dqp, g(qn[l].p), dq, qp[l], qn[l].w1, rq[l], N * NH, HS);
            k.rmsnormBackward(dkp, g(kn[l].p), dk, kp[l], kn[l].w1, rk[l], N * NKV, HS);
            k.zero(dxn);
            k.matmulBackward(dxn, g(wq[l]), null, dqp, xn1[l], wq[l].weight, N, C, QD);
            k.matmulBackward(dxn, g(wk[l]), null, dkp, xn1[l], wk[l].weight, N, C, KVD);
            k.matmulBackward(dxn, g(wv[l]), null, dv, xn1[l], wv[l].weight, N, C, KVD);
            k.rmsnormBackward(dres, g(ln1[l].p), dxn, x[l], ln1[l].w1, rstd1[l], N, C); // dres = d x[l]
        }
        k.scale(dres, (long) N * C, embedScale);
        embeddingBackward(wte, null, dres, ids, cfg.extra().padTokenId());
    }

    private java.util.List<Norm> allNorms() {
        java.util.List<Norm> all = new java.util.ArrayList<>();
        for (int l = 0; l < L; l++) {
            all.addAll(java.util.List.of(ln1[l], qn[l], kn[l], postAttn[l], preFf[l], postFf[l]));
        }
        all.add(normF);
        return all;
    }

    @Override
    public void close() {
        for (Norm n : allNorms()) {
            n.w1.close();
        }
        ones.close();
        ropeFull.close();
        ropeLocal.close();
        super.close();
    }
}
