package bitnet.engine.model;

import bitnet.io.ModelConfig;
import bitnet.kernels.Buf;
import bitnet.kernels.Kernels;

/**
 * The Llama family (Llama 1-3, Mistral, Qwen2): RMSNorm, RoPE (default, linear, llama3),
 * grouped-query attention, SwiGLU, optional q/k/v/o biases, tied or untied head. Forward is a
 * flat list of kernel calls per layer; backward is its mirror, read bottom to top.
 */
public final class LlamaModel extends Model {
    private final int L, C, NH, NKV, HS, I, V, QD, KVD;
    // parameters, per layer
    private final Param wte, head, normF;
    private final Param[] ln1, ln2, wq, wk, wv, wo, bq, bk, bv, bo, wg, wu, wd;
    private final Buf ropeCos, ropeSin; // (maxT, HS/2)
    private final int maxT;
    private Acts a;

    /** Activations for one (B, T), kept for backward. */
    private final class Acts {
        final int B, T, N;
        final Buf[] x;                  // L+1 x (N, C) residual stream; x[0] embeddings
        final Buf[] xn1, rstd1;         // (N, C), (N)
        final Buf[] q, kk, vv;          // (N, QD), (N, KVD), (N, KVD) after RoPE
        final Buf[] att;                // (B, NH, T, T) probabilities (null when cached)
        final Buf[] atty;               // (N, QD)
        final Buf[] xm;                 // (N, C) residual after attention
        final Buf[] xn2, rstd2;         // (N, C), (N)
        final Buf[] gate, up, hmid;     // (N, I)
        final Buf tmpC;                 // (N, C) scratch for projections
        final Buf xf, rstdf;            // (N, C), (N) final norm
        final Buf logits;               // (N, V)

        Acts(int B, int T, boolean keepAtt) {
            this.B = B;
            this.T = T;
            this.N = B * T;
            x = new Buf[L + 1];
            for (int l = 0; l <= L; l++) {
                x[l] = k.alloc((long) N * C);
            }
            xn1 = bufs(N * C); rstd1 = bufs(N);
            q = bufs(N * QD); kk = bufs(N * KVD); vv = bufs(N * KVD);
            att = new Buf[L];
            if (keepAtt) {
                for (int l = 0; l < L; l++) {
                    att[l] = k.alloc(k.attentionStateSize(B, NH, T));
                }
            }
            atty = bufs(N * QD); xm = bufs(N * C); xn2 = bufs(N * C); rstd2 = bufs(N);
            gate = bufs((long) N * I); up = bufs((long) N * I); hmid = bufs((long) N * I);
            tmpC = k.alloc((long) N * C);
            xf = k.alloc((long) N * C);
            rstdf = k.alloc(N);
            logits = k.alloc((long) N * V);
        }

        private Buf[] bufs(long n) {
            return perLayer(L, n);
        }

        void close() {
            for (Buf[] bs : new Buf[][] {x, xn1, rstd1, q, kk, vv, att, atty, xm, xn2, rstd2, gate, up, hmid}) {
                for (Buf b : bs) {
                    if (b != null) {
                        b.close();
                    }
                }
            }
            tmpC.close(); xf.close(); rstdf.close(); logits.close();
        }
    }

    public LlamaModel(ModelConfig cfg, Kernels k) {
        super(cfg, k);
        L = cfg.numLayers(); C = cfg.hiddenSize(); NH = cfg.numHeads(); NKV = cfg.numKvHeads();
        HS = cfg.headDim(); I = cfg.intermediateSize(); V = cfg.vocabSize();
        QD = NH * HS; KVD = NKV * HS;
        wte = hf("model.embed_tokens.weight", Param.Kind.EMBEDDING, new long[] {V, C}, V, C);
        ln1 = new Param[L]; ln2 = new Param[L]; wq = new Param[L]; wk = new Param[L]; wv = new Param[L];
        wo = new Param[L]; bq = new Param[L]; bk = new Param[L]; bv = new Param[L]; bo = new Param[L];
        wg = new Param[L]; wu = new Param[L]; wd = new Param[L];
        for (int l = 0; l < L; l++) {
            String p = "model.layers." + l + ".";
            ln1[l] = hf(p + "input_layernorm.weight", Param.Kind.NORM, new long[] {C}, 1, C);
            wq[l] = hf(p + "self_attn.q_proj.weight", Param.Kind.LINEAR, new long[] {QD, C}, QD, C);
            wk[l] = hf(p + "self_attn.k_proj.weight", Param.Kind.LINEAR, new long[] {KVD, C}, KVD, C);
            wv[l] = hf(p + "self_attn.v_proj.weight", Param.Kind.LINEAR, new long[] {KVD, C}, KVD, C);
            if (cfg.qkvBias()) {
                bq[l] = hf(p + "self_attn.q_proj.bias", Param.Kind.BIAS, new long[] {QD}, 1, QD);
                bk[l] = hf(p + "self_attn.k_proj.bias", Param.Kind.BIAS, new long[] {KVD}, 1, KVD);
                bv[l] = hf(p + "self_attn.v_proj.bias", Param.Kind.BIAS, new long[] {KVD}, 1, KVD);
            }
            wo[l] = hf(p + "self_attn.o_proj.weight", Param.Kind.LINEAR, new long[] {C, QD}, C, QD);
            if (cfg.oBias()) {
                bo[l] = hf(p + "self_attn.o_proj.bias", Param.Kind.BIAS, new long[] {C}, 1, C);
            }
            ln2[l] = hf(p + "post_attention_layernorm.weight", Param.Kind.NORM, new long[] {C}, 1, C);
            wg[l] = hf(p + "mlp.gate_proj.weight", Param.Kind.LINEAR, new long[] {I, C}, I, C);
            wu[l] = hf(p + "mlp.up_proj.weight", Param.Kind.LINEAR, new long[] {I, C}, I, C);
            wd[l] = hf(p + "mlp.down_proj.weight", Param.Kind.LINEAR, new long[] {C, I}, C, I);
        }
        normF = hf("model.norm.weight", Param.Kind.NORM, new long[] {C}, 1, C);
        head = cfg.tieWordEmbeddings() ? wte : hf("lm_head.weight", Param.Kind.HEAD, new long[] {V, C}, V, C);
        maxT = cfg.maxPositions();
        float[][] cs = ropeTables(cfg, maxT);
        ropeCos = k.upload(cs[0]);
        ropeSin = k.upload(cs[1]);
    }

    private Buf b(Param p) {
        return p == null ? null : p.value;
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
            throw new IllegalArgumentException("sequence of " + (pos0 + T) + " exceeds max_position_embeddings " + maxT);
        }
        if (cache != null && B != 1) {
            throw new IllegalArgumentException("the KV cache holds one sequence");
        }
        Acts s = acts(B, T, cache == null);
        int N = B * T;
        int window = cfg.slidingWindow() == null ? 0 : cfg.slidingWindow();
        k.embedding(s.x[0], ids, wte.weight, null, B, T, C, 0);
        for (int l = 0; l < L; l++) {
            k.rmsnorm(s.xn1[l], s.rstd1[l], s.x[l], ln1[l].value, N, C, cfg.normEps());
            k.matmul(s.q[l], s.xn1[l], wq[l].weight, b(bq[l]), N, C, QD);
            k.matmul(s.kk[l], s.xn1[l], wk[l].weight, b(bk[l]), N, C, KVD);
            k.matmul(s.vv[l], s.xn1[l], wv[l].weight, b(bv[l]), N, C, KVD);
            k.rope(s.q[l], ropeCos, ropeSin, B, T, NH, HS, pos0);
            k.rope(s.kk[l], ropeCos, ropeSin, B, T, NKV, HS, pos0);
            if (cache == null) {
                k.attention(s.atty[l], s.att[l], s.q[l], s.kk[l], s.vv[l], B, T, T, NH, NKV, HS, window);
            } else {
                k.copy(cache.keys[l], (long) pos0 * KVD, s.kk[l], 0, (long) T * KVD);
                k.copy(cache.values[l], (long) pos0 * KVD, s.vv[l], 0, (long) T * KVD);
                k.attention(s.atty[l], null, s.q[l], cache.keys[l], cache.values[l], 1, T, pos0 + T, NH, NKV, HS, window);
            }
            k.matmul(s.tmpC, s.atty[l], wo[l].weight, b(bo[l]), N, QD, C);
            k.add(s.xm[l], s.x[l], s.tmpC, (long) N * C);
            k.rmsnorm(s.xn2[l], s.rstd2[l], s.xm[l], ln2[l].value, N, C, cfg.normEps());
            k.matmul(s.gate[l], s.xn2[l], wg[l].weight, null, N, C, I);
            k.matmul(s.up[l], s.xn2[l], wu[l].weight, null, N, C, I);
            k.swiglu(s.hmid[l], s.gate[l], s.up[l], (long) N * I);
            k.matmul(s.tmpC, s.hmid[l], wd[l].weight, null, N, I, C);
            k.add(s.x[l + 1], s.xm[l], s.tmpC, (long) N * C);
        }
        k.rmsnorm(s.xf, s.rstdf, s.x[L], normF.value, N, C, cfg.normEps());
        k.matmul(s.logits, s.xf, head.weight, null, N, C, V);
        if (cache != null) {
            cache.length += T;
        }
        return s.logits;
    }

    // gradient scratch, sized for the current acts
    private Buf dres, dxn, dq, dk, dv, datty, dgate, dup, dh;
    private int gradN = -1;

    private void gradScratch(int N) {
        if (gradN == N) {
            return;
        }
        for (Buf x : new Buf[] {dres, dxn, dq, dk, dv, datty, dgate, dup, dh}) {
            if (x != null) {
                x.close();
            }
        }
        dres = k.alloc((long) N * C); dxn = k.alloc((long) N * C);
        dq = k.alloc((long) N * QD); dk = k.alloc((long) N * KVD); dv = k.alloc((long) N * KVD);
        datty = k.alloc((long) N * QD);
        dgate = k.alloc((long) N * I); dup = k.alloc((long) N * I); dh = k.alloc((long) N * I);
        gradN = N;
    }

    private Buf g(Param p) {
        return p == null ? null : p.grad(k);
    }

    @Override
    protected void backward(int[] ids, Buf dlogits) {
        Acts s = a;
        int B = s.B, T = s.T, N = s.N;
        gradScratch(N);
        // head and final norm
        k.zero(dxn);
        k.matmulBackward(dxn, g(head), null, dlogits, s.xf, head.weight, N, C, V);
        k.zero(dres);
        k.rmsnormBackward(dres, g(normF), dxn, s.x[L], normF.value, s.rstdf, N, C);
        for (int l = L - 1; l >= 0; l--) {
            // MLP: x[l+1] = xm + down(swiglu(gate(xn2), up(xn2))); dres holds d x[l+1]
            k.zero(dh);
            k.matmulBackward(dh, g(wd[l]), null, dres, s.hmid[l], wd[l].weight, N, I, C);
            k.zero(dgate);
            k.zero(dup);
            k.swigluBackward(dgate, dup, dh, s.gate[l], s.up[l], (long) N * I);
            k.zero(dxn);
            k.matmulBackward(dxn, g(wg[l]), null, dgate, s.xn2[l], wg[l].weight, N, C, I);
            k.matmulBackward(dxn, g(wu[l]), null, dup, s.xn2[l], wu[l].weight, N, C, I);
            k.rmsnormBackward(dres, g(ln2[l]), dxn, s.xm[l], ln2[l].value, s.rstd2[l], N, C); // dres = d xm
            // attention: xm = x + o(attn(rope(q(xn1)), rope(k(xn1)), v(xn1)))
            k.zero(datty);
            k.matmulBackward(datty, g(wo[l]), g(bo[l]), dres, s.atty[l], wo[l].weight, N, QD, C);
            k.zero(dq);
            k.zero(dk);
            k.zero(dv);
            k.attentionBackward(dq, dk, dv, datty, s.att[l], s.q[l], s.kk[l], s.vv[l], B, T, NH, NKV, HS);
            if (qkvGrad != null && qkvGrad[l] != null) { // distillation: gradients of the post-RoPE q, k, v
                k.add(dq, dq, qkvGrad[l][0], (long) N * QD); k.add(dk, dk, qkvGrad[l][1], (long) N * KVD); k.add(dv, dv, qkvGrad[l][2], (long) N * KVD);
            }
            k.ropeBackward(dq, ropeCos, ropeSin, B, T, NH, HS, 0);
            k.ropeBackward(dk, ropeCos, ropeSin, B, T, NKV, HS, 0);
            k.zero(dxn);
            k.matmulBackward(dxn, g(wq[l]), g(bq[l]), dq, s.xn1[l], wq[l].weight, N, C, QD);
            k.matmulBackward(dxn, g(wk[l]), g(bk[l]), dk, s.xn1[l], wk[l].weight, N, C, KVD);
            k.matmulBackward(dxn, g(wv[l]), g(bv[l]), dv, s.xn1[l], wv[l].weight, N, C, KVD);
            k.rmsnormBackward(dres, g(ln1[l]), dxn, s.x[l], ln1[l].value, s.rstd1[l], N, C); // dres = d x[l]
        }
        k.embeddingBackward(g(wte), null, dres, ids, B, T, C);
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
        return newCache(L, KVD, maxLen);
    }

    @Override
    public void close() {
        if (a != null) {
            a.close();
        }
        super.close();
    }
}
