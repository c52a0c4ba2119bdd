package bitnet.kernels.cpu;

import static bitnet.kernels.cpu.CpuBuf.arr;

import bitnet.io.TensorData;
import bitnet.kernels.Buf;
import bitnet.kernels.Kernels;
import bitnet.kernels.Weight;

/**
 * The scalar reference backend: plain loops, one thread, FP32 with wider accumulation where a
 * sum runs long. It is both the fallback and the test oracle for every fast kernel, so it stays
 * simple enough to check by reading. Not for speed.
 */
public class ScalarKernels implements Kernels {

    @Override
    public String name() {
        return "scalar";
    }

    // ---- memory ----------------------------------------------------------------------------

    @Override
    public Buf alloc(long n) {
        return new CpuBuf(new float[Math.toIntExact(n)]);
    }

    @Override
    public Buf upload(float[] host, int n) {
        float[] a = new float[n];
        System.arraycopy(host, 0, a, 0, n);
        return new CpuBuf(a);
    }

    @Override
    public void download(Buf buf, float[] host, int n) {
        System.arraycopy(arr(buf), 0, host, 0, n);
    }

    @Override
    public void copy(Buf dst, long dstOff, Buf src, long srcOff, long n) {
        System.arraycopy(arr(src), Math.toIntExact(srcOff), arr(dst), Math.toIntExact(dstOff), Math.toIntExact(n));
    }

    @Override
    public void zero(Buf buf) {
        java.util.Arrays.fill(arr(buf), 0f);
    }

    @Override
    public Weight weight(Buf buf, int rows, int cols) {
        return new F32Weight((CpuBuf) buf, rows, cols);
    }

    @Override
    public Weight weight(TensorData stored) {
        return StoredWeight.of(stored);
    }

    @Override
    public Buf bufOf(Weight w) {
        return w instanceof F32Weight f ? f.buf() : null;
    }

    // ---- embeddings ------------------------------------------------------------------------

    @Override
    public void embedding(Buf out, int[] ids, Weight wte, Weight wpe, int B, int T, int C, int pos0) {
        float[] o = arr(out);
        for (int n = 0; n < B * T; n++) {
            int id = ids[n];
            int t = n % T;
            for (int c = 0; c < C; c++) {
                float v = wte.get(id, c);
                if (wpe != null) {
                    v += wpe.get(pos0 + t, c);
                }
                o[n * C + c] = v;
            }
        }
    }

    @Override
    public void embeddingBackward(Buf dwte, Buf dwpe, Buf dout, int[] ids, int B, int T, int C) {
        float[] dw = arr(dwte), dp = arr(dwpe), d = arr(dout);
        for (int n = 0; n < B * T; n++) {
            int id = ids[n];
            int t = n % T;
            for (int c = 0; c < C; c++) {
                dw[id * C + c] += d[n * C + c];
                if (dp != null) {
                    dp[t * C + c] += d[n * C + c];
                }
            }
        }
    }

    // ---- linear layers ---------------------------------------------------------------------

    @Override
    public void matmul(Buf out, Buf inp, Weight w, Buf bias, int N, int C, int OC) {
        float[] o = arr(out), x = arr(inp), b = arr(bias);
        for (int n = 0; n < N; n++) {
            for (int oc = 0; oc < OC; oc++) {
                float s = b == null ? 0f : b[oc];
                for (int c = 0; c < C; c++) {
                    s += x[n * C + c] * w.get(oc, c);
                }
                o[n * OC + oc] = s;
            }
        }
    }

    @Override
    public void matmulBackward(Buf dinp, Buf dweight, Buf dbias, Buf dout, Buf inp, Weight w, int N, int C, int OC) {
        float[] dx = arr(dinp), dw = arr(dweight), db = arr(dbias), d = arr(dout), x = arr(inp);
        if (dx != null) {
            for (int n = 0; n < N; n++) {
                for (int c = 0; c < C; c++) {
                    float s = 0f;
                    for (int oc = 0; oc < OC; oc++) {
                        s += d[n * OC + oc] * w.get(oc, c);
                    }
                    dx[n * C + c] += s;
                }
            }
        }
        if (dw != null) {
            for (int oc = 0; oc < OC; oc++) {
                for (int c = 0; c < C; c++) {
                    double s = 0;
                    for (int n = 0; n < N; n++) {
                        s += (double) d[n * OC + oc] * x[n * C + c];
                    }
                    dw[oc * C + c] += (float) s;
                }
            }
        }
        if (db != null) {
            for (int oc = 0; oc < OC; oc++) {
                float s = 0f;
                for (int n = 0; n < N; n++) {
                    s += d[n * OC + oc];
                }
                db[oc] += s;
            }
        }
    }

    // ---- norms -----------------------------------------------------------------------------

    @Override
    public void layernorm(Buf out, Buf mean, Buf rstd, Buf inp, Buf w, Buf b, int N, int C, float eps) {
        float[] o = arr(out), mu = arr(mean), rs = arr(rstd), x = arr(inp), wt = arr(w), bs = arr(b);
        for (int n = 0; n < N; n++) {
            int off = n * C;
            double m = 0;
            for (int c = 0; c < C; c++) {
                m += x[off + c];
            }
            float mf = (float) (m / C);
            double v = 0;
            for (int c = 0; c < C; c++) {
                float dlt = x[off + c] - mf;
                v += dlt * dlt;
            }
            float r = (float) (1.0 / Math.sqrt(v / C + eps));
            for (int c = 0; c < C; c++) {
                o[off + c] = (x[off + c] - mf) * r * wt[c] + (bs == null ? 0f : bs[c]);
            }
            if (mu != null) {
                mu[n] = mf;
            }
            if (rs != null) {
                rs[n] = r;
            }
        }
    }

    @Override
    public void layernormBackward(
            Buf dinp, Buf dw, Buf db, Buf dout, Buf inp, Buf w, Buf mean, Buf rstd, int N, int C) {
        float[] dx = arr(dinp),
                dwt = arr(dw),
                dbs = arr(db),
                d = arr(dout),
                x = arr(inp),
                wt = arr(w),
                mu = arr(mean),
                rs = arr(rstd);
        for (int n = 0; n < N; n++) {
            int off = n * C;
            float m = mu[n], r = rs[n];
            double dnormMean = 0, dnormNormMean = 0;
            for (int c = 0; c < C; c++) {
                float norm = (x[off + c] - m) * r;
                float dnorm = wt[c] * d[off + c];
                dnormMean += dnorm;
                dnormNormMean += dnorm * norm;
            }
            float a = (float) (dnormMean / C), bb = (float) (dnormNormMean / C);
            for (int c = 0; c < C; c++) {
                float norm = (x[off + c] - m) * r;
                float dnorm = wt[c] * d[off + c];
                if (dbs != null) {
                    dbs[c] += d[off + c];
                }
                dwt[c] += norm * d[off + c];
                dx[off + c] += (dnorm - a - norm * bb) * r;
            }
        }
    }

    @Override
    public void rmsnorm(Buf out, Buf rstd, Buf inp, Buf w, int N, int C, float eps) {
        float[] o = arr(out), rs = arr(rstd), x = arr(inp), wt = arr(w);
        for (int n = 0; n < N; n++) {
            int off = n * C;
            double ss = 0;
            for (int c = 0; c < C; c++) {
                ss += (double) x[off + c] * x[off + c];
            }
            float r = (float) (1.0 / Math.sqrt((float) (ss / C) + eps));
            for (int c = 0; c < C; c++) {
                o[off + c] = wt[c] * (x[off + c] * r);
            }
            if (rs != null) {
                rs[n] = r;
            }
        }
    }

    @Override
    public void rmsnormBackward(Buf dinp, Buf dw, Buf dout, Buf inp, Buf w, Buf rstd, int N, int C) {
        float[] dx = arr(dinp), dwt = arr(dw), d = arr(dout), x = arr(inp), wt = arr(w), rs = arr(rstd);
        for (int n = 0; n < N; n++) {
            int off = n * C;
            float r = rs[n];
            double dot = 0;
            for (int c = 0; c < C; c++) {
                dot += (double) d[off + c] * wt[c] * x[off + c];
            }
            float k = (float) (dot / C) * r * r * r;
            for (int c = 0; c < C; c++) {
                dwt[c] += d[off + c] * (x[off + c] * r);
                dx[off + c] += d[off + c] * wt[c] * r - k * x[off + c];
            }
        }
    }

    // ---- attention -------------------------------------------------------------------------

    @Override
    public void rope(Buf x, Buf cos, Buf sin, int B, int T, int NH, int HS, int pos0) {
        rotate(arr(x), arr(cos), arr(sin), B, T, NH, HS, pos0, 1f);
    }

    @Override
    public void ropeBackward(Buf dx, Buf cos, Buf sin, int B, int T, int NH, int HS, int pos0) {
        rotate(arr(dx), arr(cos), arr(sin), B, T, NH, HS, pos0, -1f);
    }

    @Override
    public void rope(Buf x, Buf cos, Buf sin, int B, int T, int NH, int HS, int RD, int pos0) {
        rotate(arr(x), arr(cos), arr(sin), B, T, NH, HS, RD, pos0, 1f);
    }

    @Override
    public void ropeBackward(Buf dx, Buf cos, Buf sin, int B, int T, int NH, int HS, int RD, int pos0) {
        rotate(arr(dx), arr(cos), arr(sin), B, T, NH, HS, RD, pos0, -1f);
    }

    private static void rotate(float[] x, float[] cs, float[] sn, int B, int T, int NH, int HS, int pos0, float sign) {
        rotate(x, cs, sn, B, T, NH, HS, HS, pos0, sign);
    }

    /** Rotates the first RD dims of each head; tables (maxT, RD/2). */
    private static void rotate(
            float[] x, float[] cs, float[] sn, int B, int T, int NH, int HS, int RD, int pos0, float sign) {
        int half = RD / 2;
        for (int b = 0; b < B; b++) {
            for (int t = 0; t < T; t++) {
                int trow = (pos0 + t) * half;
                for (int h = 0; h < NH; h++) {
                    int off = ((b * T + t) * NH + h) * HS;
                    for (int i = 0; i < half; i++) {
                        float c = cs[trow + i], s = sign * sn[trow + i];
                        float x1 = x[off + i], x2 = x[off + i + half];
                        x[off + i] = x1 * c - x2 * s;
                        x[off + i + half] = x2 * c + x1 * s;
                    }
                }
            }
        }
    }

    @Override
    public void attention(
            Buf out, Buf att, Buf q, Buf k, Buf v, int B, int T, int TK, int NH, int NKV, int HS, int window) {
        float[] o = arr(out), p = arr(att), qa = arr(q), ka = arr(k), va = arr(v);
        float scale = (float) (1.0 / Math.sqrt(HS));
        int g = NH / NKV;
        float[] row = new float[TK];
        for (int b = 0; b < B; b++) {
            for (int h = 0; h < NH; h++) {
                int kvh = h / g;
                for (int t = 0; t < T; t++) {
                    int qpos = TK - T + t;
                    int lo = window > 0 ? Math.max(0, qpos - window + 1) : 0;
                    int qoff = ((b * T + t) * NH + h) * HS;
                    float max = Float.NEGATIVE_INFINITY;
                    for (int j = lo; j <= qpos; j++) {
                        int koff = ((b * TK + j) * NKV + kvh) * HS;
                        float s = 0f;
                        for (int i = 0; i < HS; i++) {
                            s += qa[qoff + i] * ka[koff + i];
                        }
                        s *= scale;
                        row[j] = s;
                        max = Math.max(max, s);
                    }
                    double sum = 0;
                    for (int j = lo; j <= qpos; j++) {
                        float e = (float) Math.exp(row[j] - max);
                        row[j] = e;
                        sum += e;
                    }
                    float inv = (float) (1.0 / sum);
                    for (int i = 0; i < HS; i++) {
                        o[qoff + i] = 0f;
                    }
                    int prow = ((b * NH + h) * T + t) * TK;
                    for (int j = 0; j < TK; j++) {
                        float pj = (j >= lo && j <= qpos) ? row[j] * inv : 0f;
                        if (p != null) {
                            p[prow + j] = pj;
                        }
                        if (pj != 0f) {
                            int voff = ((b * TK + j) * NKV + kvh) * HS;
                            for (int i = 0; i < HS; i++) {
                                o[qoff + i] += pj * va[voff + i];
                            }
                        }
                    }
                }
            }
        }
    }

    @Override
    public void attentionBackward(
            Buf dq, Buf dk, Buf dv, Buf dout, Buf att, Buf q, Buf k, Buf v, int B, int T, int NH, int NKV, int HS) {
        float[] dqa = arr(dq),
                dka = arr(dk),
                dva = arr(dv),
                d = arr(dout),
                p = arr(att),
                qa = arr(q),
                ka = arr(k),
                va = arr(v);
        float scale = (float) (1.0 / Math.sqrt(HS));
        int g = NH / NKV;
        float[] datt = new float[T];
        for (int b = 0; b < B; b++) {
            for (int h = 0; h < NH; h++) {
                int kvh = h / g;
                for (int t = 0; t < T; t++) {
                    int qoff = ((b * T + t) * NH + h) * HS;
                    int prow = ((b * NH + h) * T + t) * T;
                    double dot = 0;
                    for (int j = 0; j <= t; j++) {
                        int voff = ((b * T + j) * NKV + kvh) * HS;
                        float s = 0f;
                        for (int i = 0; i < HS; i++) {
                            s += d[qoff + i] * va[voff + i];
                            dva[voff + i] += p[prow + j] * d[qoff + i];
                        }
                        datt[j] = s;
                        dot += (double) p[prow + j] * s;
                    }
                    for (int j = 0; j <= t; j++) {
                        float dpre = p[prow + j] * (datt[j] - (float) dot) * scale;
                        if (dpre == 0f) {
                            continue;
                        }
                        int koff = ((b * T + j) * NKV + kvh) * HS;
                        for (int i = 0; i < HS; i++) {
                            dqa[qoff + i] += dpre * ka[koff + i];
                            dka[koff + i] += dpre * qa[qoff + i];
                        }
                    }
                }
            }
        }
    }

    // ---- elementwise ------------------------------------------------------------------------

    @Override
    public void add(Buf out, Buf a, Buf b, long n) {
        float[] o = arr(out), x = arr(a), y = arr(b);
        for (int i = 0; i < n; i++) {
            o[i] = x[i] + y[i];
        }
    }

    static final float GELU_K = (float) Math.sqrt(2.0 / Math.PI);

    @Override
    public void gelu(Buf out, Buf inp, long n) {
        float[] o = arr(out), x = arr(inp);
        for (int i = 0; i < n; i++) {
            float v = x[i];
            o[i] = 0.5f * v * (1f + (float) Math.tanh(GELU_K * (v + 0.044715f * v * v * v)));
        }
    }

    @Override
    public void geluBackward(Buf dinp, Buf dout, Buf inp, long n) {
        float[] dx = arr(dinp), d = arr(dout), x = arr(inp);
        for (int i = 0; i < n; i++) {
            float v = x[i];
            float u = GELU_K * (v + 0.044715f * v * v * v);
            float th = (float) Math.tanh(u);
            float sech2 = 1f - th * th;
            float grad = 0.5f * (1f + th) + 0.5f * v * sech2 * GELU_K * (1f + 3f * 0.044715f * v * v);
            dx[i] += grad * d[i];
        }
    }

    /** erf in double: Taylor series below 3 (terms stay under ~2e2, so ~1e-14 relative), continued fraction above. */
    static double erf(double x) {
        double a = Math.abs(x);
        double r;
        if (a < 3) {
            double x2 = a * a, term = a, sum = a;
            for (int n = 1; n < 100; n++) {
                term *= -x2 / n;
                double add = term / (2 * n + 1);
                sum += add;
                if (Math.abs(add) < 1e-17 * Math.abs(sum)) {
                    break;
                }
            }
            r = sum * 2 / Math.sqrt(Math.PI);
        } else {
            // erfc(a) = exp(-a²)/√π / (a + (1/2)/(a + 1/(a + (3/2)/(a + ...))))
            double kf = a;
            for (int n = 60; n >= 1; n--) {
                kf = a + (n / 2.0) / kf;
            }
            r = 1 - Math.exp(-a * a) / Math.sqrt(Math.PI) / kf;
        }
        return x < 0 ? -r : r;
    }

    /** PyTorch's float formula x * 0.5 * (1 + erf(x * √½)), with erf correctly rounded to float. */
    static float geluErf(float x) {
        float e = (float) erf(x * (float) SQRT1_2);
        return x * 0.5f * (1f + e);
    }

    /** PyTorch's gelu backward in float: Φ(x) + x φ(x), φ(x) = exp(-x²/2) · (2/√π · √½ · ½). */
    static float geluErfGrad(float x) {
        float cdf = 0.5f * (1f + (float) erf(x * (float) SQRT1_2));
        float pdf = (float) Math.exp(-0.5f * x * x) * (float) (2 / Math.sqrt(Math.PI) * SQRT1_2 * 0.5);
        return cdf + x * pdf;
    }

    static final double SQRT1_2 = Math.sqrt(0.5);

    @Override
    public void geluErf(Buf out, Buf inp, long n) {
        float[] o = arr(out), x = arr(inp);
        for (int i = 0; i < n; i++) {
            o[i] = geluErf(x[i]);
        }
    }

    @Override
    public void geluErfBackward(Buf dinp, Buf dout, Buf inp, long n) {
        float[] dx = arr(dinp), d = arr(dout), x = arr(inp);
        for (int i = 0; i < n; i++) {
            dx[i] += geluErfGrad(x[i]) * d[i];
        }
    }

    static float geluTanh(float v) {
        return 0.5f * v * (1f + (float) Math.tanh(GELU_K * (v + 0.044715f * v * v * v)));
    }

    static float geluTanhGrad(float v) {
        float th = (float) Math.tanh(GELU_K * (v + 0.044715f * v * v * v));
        return 0.5f * (1f + th) + 0.5f * v * (1f - th * th) * GELU_K * (1f + 3f * 0.044715f * v * v);
    }

    @Override
    public void geglu(Buf out, Buf gate, Buf up, long n) {
        float[] o = arr(out), ga = arr(gate), u = arr(up);
        for (int i = 0; i < n; i++) {
            o[i] = geluTanh(ga[i]) * u[i];
        }
    }

    @Override
    public void gegluBackward(Buf dgate, Buf dup, Buf dout, Buf gate, Buf up, long n) {
        float[] dg = arr(dgate), du = arr(dup), d = arr(dout), ga = arr(gate), u = arr(up);
        for (int i = 0; i < n; i++) {
            dg[i] += d[i] * u[i] * geluTanhGrad(ga[i]);
            du[i] += d[i] * geluTanh(ga[i]);
        }
    }

    @Override
    public void softcap(Buf out, Buf inp, long n, float cap) {
        float[] o = arr(out), x = arr(inp);
        for (int i = 0; i < n; i++) {
            o[i] = cap * (float) Math.tanh(x[i] / cap);
        }
    }

    @Override
    public void softcapBackward(Buf dinp, Buf dout, Buf inp, long n, float cap) {
        float[] dx = arr(dinp), d = arr(dout), x = arr(inp);
        for (int i = 0; i < n; i++) {
            float t = (float) Math.tanh(x[i] / cap);
            dx[i] = d[i] * (1f - t * t);
        }
    }

    static float sigmoid(float x) {
        return (float) (1.0 / (1.0 + Math.exp(-x)));
    }

    @Override
    public void swiglu(Buf out, Buf gate, Buf up, long n) {
        float[] o = arr(out), ga = arr(gate), u = arr(up);
        for (int i = 0; i < n; i++) {
            float x = ga[i];
            o[i] = x * sigmoid(x) * u[i];
        }
    }

    @Override
    public void swigluBackward(Buf dgate, Buf dup, Buf dout, Buf gate, Buf up, long n) {
        float[] dg = arr(dgate), du = arr(dup), d = arr(dout), ga = arr(gate), u = arr(up);
        for (int i = 0; i < n; i++) {
            float x = ga[i];
            float s = sigmoid(x);
            float silu = x * s;
            dg[i] += d[i] * u[i] * (s * (1f + x * (1f - s)));
            du[i] += d[i] * silu;
        }
    }

    // ---- loss ------------------------------------------------------------------------------

    @Override
    public void crossEntropy(Buf losses, Buf dlogits, Buf logits, int[] targets, int N, int V, float dscale) {
        float[] l = arr(losses), dl = arr(dlogits), z = arr(logits);
        for (int n = 0; n < N; n++) {
            int off = n * V;
            int tgt = targets[n];
            if (tgt < 0) {
                l[n] = 0f;
                if (dl != null) {
                    java.util.Arrays.fill(dl, off, off + V, 0f);
                }
                continue;
            }
            float max = Float.NEGATIVE_INFINITY;
            for (int i = 0; i < V; i++) {
                max = Math.max(max, z[off + i]);
            }
            double sum = 0;
            for (int i = 0; i < V; i++) {
                sum += Math.exp(z[off + i] - max);
            }
            double lse = max + Math.log(sum);
            l[n] = (float) (lse - z[off + tgt]);
            if (dl != null) {
                for (int i = 0; i < V; i++) {
                    float pr = (float) Math.exp(z[off + i] - lse);
                    dl[off + i] = (pr - (i == tgt ? 1f : 0f)) * dscale;
                }
            }
        }
    }

    // ---- optimizer -------------------------------------------------------------------------

    @Override
    public void adamw(Buf p, Buf m, Buf v, Buf g, long n, float lr, float b1, float b2, float eps, float wd, int step) {
        float[] pa = arr(p), ma = arr(m), va = arr(v), ga = arr(g);
        double bc1 = 1 - Math.pow(b1, step);
        double bc2 = 1 - Math.pow(b2, step);
        float stepSize = (float) (lr / bc1);
        float bc2Sqrt = (float) Math.sqrt(bc2);
        float decay = 1f - lr * wd;
        float w1 = 1f - b1, w2 = 1f - b2;
        for (int i = 0; i < n; i++) {
            pa[i] *= decay;
            ma[i] += w1 * (ga[i] - ma[i]);
            va[i] = va[i] * b2 + w2 * ga[i] * ga[i];
            float denom = (float) Math.sqrt(va[i]) / bc2Sqrt + eps;
            pa[i] += -stepSize * (ma[i] / denom);
        }
    }

    @Override
    public void grokfastEma(Buf g, Buf mu, long n, float alpha, float lambda) {
        float[] ga = arr(g), m = arr(mu);
        float w = 1f - alpha;
        for (int i = 0; i < n; i++) {
            m[i] = m[i] * alpha + ga[i] * w;
            ga[i] += m[i] * lambda;
        }
    }

    @Override
    public double sumSquares(Buf x, long n) {
        float[] a = arr(x);
        double s = 0;
        for (int i = 0; i < n; i++) {
            s += (double) a[i] * a[i];
        }
        return s;
    }

    @Override
    public void scale(Buf x, long n, float s) {
        float[] a = arr(x);
        for (int i = 0; i < n; i++) {
            a[i] *= s;
        }
    }

    @Override
    public void axpy(Buf y, Buf x, long n, float a) {
        float[] ya = arr(y), xa = arr(x);
        for (int i = 0; i < n; i++) {
            ya[i] += a * xa[i];
        }
    }
}
