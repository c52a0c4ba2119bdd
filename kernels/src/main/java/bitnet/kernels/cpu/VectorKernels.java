package bitnet.kernels.cpu;

import static bitnet.kernels.cpu.CpuBuf.arr;
import static bitnet.kernels.cpu.VectorMath.L;
import static bitnet.kernels.cpu.VectorMath.S;

import bitnet.kernels.Buf;
import bitnet.kernels.Weight;
import bitnet.kernels.cpu.gemm.PackB;
import bitnet.kernels.cpu.gemm.Sgemm;
import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The Vector API CPU backend: {@link ScalarKernels} with its hot ops replaced by vectorized,
 * multi-threaded kernels (a packed SGEMM for the linear layers, attention over heads in parallel,
 * fused softmax cross-entropy, norms, elementwise ops and the optimizer). Ops not overridden here
 * (rope, memory ops) are the reference's own. Every override has its scalar twin in the parent,
 * which is its test oracle. Not thread-safe for concurrent callers beyond falling back to one
 * thread.
 */
public class VectorKernels extends ScalarKernels {
    /** Below this many rows a forward product is a set of row dot products (generation, M = 1). */
    static final int SMALL_M = 4;
    /** Elementwise loops split over threads only past this many elements (else the hand-off costs more). */
    static final int MIN_CHUNK = 1 << 15;

    static final VectorSpecies<Float> SH = FloatVector.SPECIES_256;
    static final VectorSpecies<Double> SD = DoubleVector.SPECIES_512;

    private final Parallel par;
    private final ThreadLocal<float[]> rowScratch = ThreadLocal.withInitial(() -> new float[0]);

    /** @param threads CPU threads (0 = all available processors) */
    public VectorKernels(int threads) {
        this.par = new Parallel(threads);
        Warmup.start(); // the first backend of the process gets its kernels compiled while the model loads
    }

    /**
     * Starts the kernel warm-up thread now ({@link Warmup}: the SGEMM's micro-kernel by default), for a
     * caller that knows a CPU backend will follow and has start-up work to overlap it with.
     */
    public static void warmUp() {
        Warmup.start();
    }

    @Override
    public String name() {
        return "vector";
    }

    public int threads() {
        return par.threads();
    }

    @Override
    public void close() {
        par.close();
    }

    private float[] scratch(int n) {
        float[] s = rowScratch.get();
        if (s.length < n) {
            s = new float[n];
            rowScratch.set(s);
        }
        return s;
    }

    // ---- linear layers ---------------------------------------------------------------------

    /** B = Wᵀ for out = inp·Wᵀ, or null for a weight type this class cannot pack. */
    static PackB transposedOf(Weight w) {
        if (w instanceof F32Weight f) {
            return PackB.transposed(f.buf().a, f.cols());
        }
        if (w instanceof StoredWeight s) {
            return PackB.transposed(s.data(), s.dtype(), s.cols());
        }
        return null;
    }

    /** B = W for dinp = dout·W, or null. */
    static PackB rowMajorOf(Weight w) {
        if (w instanceof F32Weight f) {
            return PackB.rowMajor(f.buf().a, f.cols());
        }
        if (w instanceof StoredWeight s) {
            return PackB.rowMajor(s.data(), s.dtype(), s.cols());
        }
        return null;
    }

    @Override
    public void matmul(Buf out, Buf inp, Weight w, Buf bias, int N, int C, int OC) {
        float[] o = arr(out), x = arr(inp), b = arr(bias);
        if (w instanceof CpuMatmul cm) {
            cm.matmulInto(par, o, x, b, N, C, OC);
            return;
        }
        PackB pb = transposedOf(w);
        if (pb == null) {
            super.matmul(out, inp, w, bias, N, C, OC);
        } else if (N < SMALL_M) {
            rowDots(o, x, w, b, N, C, OC);
        } else {
            Sgemm.gemm(par, N, OC, C, x, 0, C, false, pb, o, OC, true, b);
        }
    }

    /** out (N, OC) = x · Wᵀ + b for a few rows: each W row is read (and converted) once. */
    private void rowDots(float[] o, float[] x, Weight w, float[] b, int N, int C, int OC) {
        // chunks of at least MIN_WORK multiply-adds: small projections stay on the calling thread
        int minRows = (int) Math.max(16, Math.min(OC, Parallel.MIN_WORK / Math.max(1L, (long) N * C)));
        par.forChunks(OC, minRows, (chunk, lo, hi) -> {
            float[] wa;
            int woff;
            float[] conv = w instanceof StoredWeight ? scratch(C) : null;
            for (int oc = lo; oc < hi; oc++) {
                if (w instanceof StoredWeight s && s.dtype() == bitnet.io.DType.BF16) {
                    // BF16 rows are widened inside the dot product (batch-1 decoding of a BF16 model)
                    float bb = b == null ? 0f : b[oc];
                    for (int n = 0; n < N; n++) {
                        o[n * OC + oc] = bb + VectorMath.dotBf16(x, n * C, s.data(), (long) oc * C * 2, C);
                    }
                    continue;
                }
                if (w instanceof F32Weight f) {
                    wa = f.buf().a;
                    woff = oc * C;
                } else {
                    StoredWeight s = (StoredWeight) w;
                    PackB.convert(s.data(), s.dtype(), (long) oc * C, conv, 0, C);
                    wa = conv;
                    woff = 0;
                }
                float bb = b == null ? 0f : b[oc];
                for (int n = 0; n < N; n++) {
                    o[n * OC + oc] = bb + VectorMath.dot(x, n * C, wa, woff, C);
                }
            }
        });
    }

    @Override
    public void matmulBackward(Buf dinp, Buf dweight, Buf dbias, Buf dout, Buf inp, Weight w, int N, int C, int OC) {
        float[] dx = arr(dinp), dw = arr(dweight), db = arr(dbias), d = arr(dout), x = arr(inp);
        if (dx != null) {
            PackB pb = rowMajorOf(w);
            if (w instanceof CpuMatmul cm) {
                cm.matmulBackwardInput(par, dx, d, N, C, OC);
            } else if (pb == null) {
                super.matmulBackward(dinp, null, null, dout, inp, w, N, C, OC);
            } else {
                // dinp (N, C) += dout (N, OC) · W (OC, C)
                Sgemm.gemm(par, N, C, OC, d, 0, OC, false, pb, dx, C, false, null);
            }
        }
        if (dw != null) {
            // dW (OC, C) += doutᵀ (OC, N) · inp (N, C): A = dout read transposed
            Sgemm.gemm(par, OC, C, N, d, 0, OC, true, PackB.rowMajor(x, C), dw, C, false, null);
        }
        if (db != null) {
            // column sums, n ascending per column, added straight into db (parallel over columns)
            par.forChunks(OC, 256, (chunk, lo, hi) -> {
                for (int n = 0; n < N; n++) {
                    VectorMath.addTo(db, lo, d, n * OC + lo, hi - lo);
                }
            });
        }
    }

    // ---- embeddings ------------------------------------------------------------------------

    @Override
    public void embedding(Buf out, int[] ids, Weight wte, Weight wpe, int B, int T, int C, int pos0) {
        if (!(wte instanceof F32Weight || wte instanceof StoredWeight || wte instanceof Int8Weight)
                || !(wpe == null
                        || wpe instanceof F32Weight
                        || wpe instanceof StoredWeight
                        || wpe instanceof Int8Weight)) {
            super.embedding(out, ids, wte, wpe, B, T, C, pos0);
            return;
        }
        float[] o = arr(out);
        par.forChunks(B * T, 64, (chunk, lo, hi) -> {
            float[] tmp = wpe == null ? null : new float[C];
            for (int n = lo; n < hi; n++) {
                rowOf(wte, ids[n], o, n * C, C);
                if (wpe != null) {
                    rowOf(wpe, pos0 + n % T, tmp, 0, C);
                    VectorMath.addTo(o, n * C, tmp, 0, C);
                }
            }
        });
    }

    private static void rowOf(Weight w, int r, float[] dst, int d, int C) {
        if (w instanceof F32Weight f) {
            System.arraycopy(f.buf().a, r * C, dst, d, C);
        } else if (w instanceof Int8Weight i8) {
            i8.row(r, dst, d);
        } else {
            StoredWeight s = (StoredWeight) w;
            PackB.convertScalar(s.data(), s.dtype(), (long) r * C, dst, d, C);
        }
    }

    @Override
    public void embeddingBackward(Buf dwte, Buf dwpe, Buf dout, int[] ids, int B, int T, int C) {
        float[] dw = arr(dwte), dp = arr(dwpe), d = arr(dout);
        // one thread: repeated ids scatter into the same row
        for (int n = 0; n < B * T; n++) {
            VectorMath.addTo(dw, ids[n] * C, d, n * C, C);
            if (dp != null) {
                VectorMath.addTo(dp, (n % T) * C, d, n * C, C);
            }
        }
    }

    // ---- norms -----------------------------------------------------------------------------

    @Override
    public void rmsnorm(Buf out, Buf rstd, Buf inp, Buf w, int N, int C, float eps) {
        float[] o = arr(out), rs = arr(rstd), x = arr(inp), wt = arr(w);
        boolean vector = !Parallel.scalarTwin(RMSNORM_COLD, (long) N * C); // else the scalar twins (same bits)
        par.forChunks(N, rowsPerChunk(C), (chunk, lo, hi) -> {
            for (int n = lo; n < hi; n++) {
                int off = n * C;
                float ss = VectorMath.sumSq(x, off, C, vector);
                float r = (float) (1.0 / Math.sqrt(ss / C + eps));
                int c = vector ? scaleLanes(o, x, wt, off, r, S.loopBound(C)) : 0;
                for (; c < C; c++) {
                    o[off + c] = wt[c] * (x[off + c] * r);
                }
                if (rs != null) {
                    rs[n] = r;
                }
            }
        });
    }

    /** o[off + c] = w[c] * (x[off + c] * r) for c < bound, in lanes; returns bound (its own method: see {@link #swigluLanes}). */
    private static int scaleLanes(float[] o, float[] x, float[] wt, int off, float r, int bound) {
        int c = 0;
        for (; c < bound; c += L) {
            FloatVector.fromArray(S, wt, c)
                    .mul(FloatVector.fromArray(S, x, off + c).mul(r))
                    .intoArray(o, off + c);
        }
        return c;
    }

    @Override
    public void rmsnormBackward(Buf dinp, Buf dw, Buf dout, Buf inp, Buf w, Buf rstd, int N, int C) {
        float[] dx = arr(dinp), dwt = arr(dw), d = arr(dout), x = arr(inp), wt = arr(w), rs = arr(rstd);
        int chunks = par.chunkCount(N, rowsPerChunk(C));
        float[][] part = partials(chunks, dwt, C);
        par.forChunks(N, rowsPerChunk(C), (chunk, lo, hi) -> {
            float[] pw = part[chunk];
            for (int n = lo; n < hi; n++) {
                int off = n * C;
                float r = rs[n];
                FloatVector acc = FloatVector.zero(S);
                int c = 0;
                for (int bound = S.loopBound(C); c < bound; c += L) {
                    acc = FloatVector.fromArray(S, d, off + c)
                            .mul(FloatVector.fromArray(S, wt, c))
                            .fma(FloatVector.fromArray(S, x, off + c), acc);
                }
                float dot = DetMath.sumLanes(acc);
                for (; c < C; c++) {
                    dot += d[off + c] * wt[c] * x[off + c];
                }
                float k = dot / C * r * r * r;
                c = 0;
                for (int bound = S.loopBound(C); c < bound; c += L) {
                    FloatVector dv = FloatVector.fromArray(S, d, off + c), xv = FloatVector.fromArray(S, x, off + c);
                    FloatVector.fromArray(S, pw, c).add(dv.mul(xv.mul(r))).intoArray(pw, c);
                    FloatVector.fromArray(S, dx, off + c)
                            .add(dv.mul(FloatVector.fromArray(S, wt, c)).mul(r).sub(xv.mul(k)))
                            .intoArray(dx, off + c);
                }
                for (; c < C; c++) {
                    pw[c] += d[off + c] * (x[off + c] * r);
                    dx[off + c] += d[off + c] * wt[c] * r - k * x[off + c];
                }
            }
        });
        reduce(part, dwt, C);
    }

    @Override
    public void layernorm(Buf out, Buf mean, Buf rstd, Buf inp, Buf w, Buf b, int N, int C, float eps) {
        float[] o = arr(out), mu = arr(mean), rs = arr(rstd), x = arr(inp), wt = arr(w), bs = arr(b);
        par.forChunks(N, rowsPerChunk(C), (chunk, lo, hi) -> {
            for (int n = lo; n < hi; n++) {
                int off = n * C;
                float mf = VectorMath.sum(x, off, C) / C;
                FloatVector acc = FloatVector.zero(S);
                int c = 0;
                for (int bound = S.loopBound(C); c < bound; c += L) {
                    FloatVector dl = FloatVector.fromArray(S, x, off + c).sub(mf);
                    acc = dl.fma(dl, acc);
                }
                float v = DetMath.sumLanes(acc);
                for (; c < C; c++) {
                    float dl = x[off + c] - mf;
                    v += dl * dl;
                }
                float r = (float) (1.0 / Math.sqrt((double) v / C + eps));
                c = 0;
                for (int bound = S.loopBound(C); c < bound; c += L) {
                    FloatVector y =
                            FloatVector.fromArray(S, x, off + c).sub(mf).mul(r).mul(FloatVector.fromArray(S, wt, c));
                    y = bs == null ? y.add(0f) : y.add(FloatVector.fromArray(S, bs, c));
                    y.intoArray(o, off + c);
                }
                for (; c < C; c++) {
                    o[off + c] = (x[off + c] - mf) * r * wt[c] + (bs == null ? 0f : bs[c]);
                }
                if (mu != null) {
                    mu[n] = mf;
                }
                if (rs != null) {
                    rs[n] = r;
                }
            }
        });
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
        int chunks = par.chunkCount(N, rowsPerChunk(C));
        float[][] pw = partials(chunks, dwt, C);
        float[][] pb = dbs == null ? null : partials(chunks, dbs, C);
        par.forChunks(N, rowsPerChunk(C), (chunk, lo, hi) -> {
            float[] gw = pw[chunk], gb = pb == null ? null : pb[chunk];
            for (int n = lo; n < hi; n++) {
                int off = n * C;
                float m = mu[n], r = rs[n];
                FloatVector s1 = FloatVector.zero(S), s2 = s1;
                int c = 0;
                for (int bound = S.loopBound(C); c < bound; c += L) {
                    FloatVector norm =
                            FloatVector.fromArray(S, x, off + c).sub(m).mul(r);
                    FloatVector dnorm = FloatVector.fromArray(S, wt, c).mul(FloatVector.fromArray(S, d, off + c));
                    s1 = s1.add(dnorm);
                    s2 = dnorm.fma(norm, s2);
                }
                float a = DetMath.sumLanes(s1), bb = DetMath.sumLanes(s2);
                for (; c < C; c++) {
                    float norm = (x[off + c] - m) * r;
                    float dnorm = wt[c] * d[off + c];
                    a += dnorm;
                    bb += dnorm * norm;
                }
                a /= C;
                bb /= C;
                c = 0;
                for (int bound = S.loopBound(C); c < bound; c += L) {
                    FloatVector dv = FloatVector.fromArray(S, d, off + c);
                    FloatVector norm =
                            FloatVector.fromArray(S, x, off + c).sub(m).mul(r);
                    FloatVector dnorm = FloatVector.fromArray(S, wt, c).mul(dv);
                    if (gb != null) {
                        FloatVector.fromArray(S, gb, c).add(dv).intoArray(gb, c);
                    }
                    FloatVector.fromArray(S, gw, c).add(norm.mul(dv)).intoArray(gw, c);
                    FloatVector.fromArray(S, dx, off + c)
                            .add(dnorm.sub(a).sub(norm.mul(bb)).mul(r))
                            .intoArray(dx, off + c);
                }
                for (; c < C; c++) {
                    float norm = (x[off + c] - m) * r;
                    float dnorm = wt[c] * d[off + c];
                    if (gb != null) {
                        gb[c] += d[off + c];
                    }
                    gw[c] += norm * d[off + c];
                    dx[off + c] += (dnorm - a - norm * bb) * r;
                }
            }
        });
        reduce(pw, dwt, C);
        if (pb != null) {
            reduce(pb, dbs, C);
        }
    }

    private static int rowsPerChunk(int C) {
        return Math.max(1, MIN_CHUNK / 4 / Math.max(1, C));
    }

    /** Per-chunk partial sums of a parameter gradient; with one chunk, the gradient itself (reference order). */
    private static float[][] partials(int chunks, float[] target, int C) {
        float[][] p = new float[chunks][];
        if (chunks == 1) {
            p[0] = target;
        } else {
            for (int i = 0; i < chunks; i++) {
                p[i] = new float[C];
            }
        }
        return p;
    }

    private static void reduce(float[][] part, float[] target, int C) {
        if (part.length == 1 && part[0] == target) {
            return;
        }
        for (float[] p : part) {
            VectorMath.addTo(target, 0, p, 0, C);
        }
    }

    // ---- attention -------------------------------------------------------------------------

    @Override
    public long attentionStateSize(int B, int NH, int T) {
        return (long) B * NH * T * VectorAttention.STATE;
    }

    @Override
    public void attention(
            Buf out, Buf att, Buf q, Buf k, Buf v, int B, int T, int TK, int NH, int NKV, int HS, int window) {
        VectorAttention.forward(par, arr(out), arr(att), arr(q), arr(k), arr(v), B, T, TK, NH, NKV, HS, window);
    }

    @Override
    public void attentionBackward(
            Buf dq, Buf dk, Buf dv, Buf dout, Buf att, Buf q, Buf k, Buf v, int B, int T, int NH, int NKV, int HS) {
        VectorAttention.backward(
                par, arr(dq), arr(dk), arr(dv), arr(dout), arr(att), arr(q), arr(k), arr(v), B, T, NH, NKV, HS);
    }

    // ---- elementwise ------------------------------------------------------------------------

    /** Elements per call of an elementwise body (a multiple of every vector length). */
    private static final int SUB_CHUNK = 1 << 13;

    /**
     * Elementwise loops: a static split over threads, each chunk run as many short body calls.
     * Short calls get the body compiled by C2 as a method, with its vector intrinsics; one long
     * call per chunk left it in on-stack-replacement code where vectors could stay boxed.
     * Bodies must be purely elementwise (no per-chunk state).
     */
    private void chunks(long n, Parallel.Chunks body) {
        par.forChunks(Math.toIntExact(n), MIN_CHUNK, (ch, lo, hi) -> {
            for (int a = lo; a < hi; a += SUB_CHUNK) {
                body.run(ch, a, Math.min(hi, a + SUB_CHUNK));
            }
        });
    }

    @Override
    public void add(Buf out, Buf a, Buf b, long n) {
        float[] o = arr(out), x = arr(a), y = arr(b);
        boolean vector = !Parallel.scalarTwin(ADD_COLD, n); // at start-up all scalar: the same sums
        chunks(n, (ch, lo, hi) -> {
            int i = vector ? addLanes(o, x, y, lo, lo + S.loopBound(hi - lo)) : lo;
            for (; i < hi; i++) {
                o[i] = x[i] + y[i];
            }
        });
    }

    /** The vector part of {@link #add}, [lo, bound); returns bound (a method of its own: see {@link #swigluLanes}). */
    private static int addLanes(float[] o, float[] x, float[] y, int lo, int bound) {
        int i = lo;
        for (; i < bound; i += L) {
            FloatVector.fromArray(S, x, i).add(FloatVector.fromArray(S, y, i)).intoArray(o, i);
        }
        return i;
    }

    @Override
    public void gelu(Buf out, Buf inp, long n) {
        float[] o = arr(out), x = arr(inp);
        chunks(n, (ch, lo, hi) -> {
            int i = lo;
            for (int bound = lo + S.loopBound(hi - lo); i < bound; i += L) {
                FloatVector v = FloatVector.fromArray(S, x, i);
                FloatVector u = v.add(v.mul(v).mul(v).mul(0.044715f)).mul(GELU_K);
                v.mul(0.5f).mul(DetMath.tanh(u).add(1f)).intoArray(o, i);
            }
            for (; i < hi; i++) {
                float v = x[i];
                o[i] = 0.5f * v * (1f + DetMath.tanh(GELU_K * (v + 0.044715f * v * v * v)));
            }
        });
    }

    @Override
    public void geluBackward(Buf dinp, Buf dout, Buf inp, long n) {
        float[] dx = arr(dinp), d = arr(dout), x = arr(inp);
        chunks(n, (ch, lo, hi) -> {
            int i = lo;
            for (int bound = lo + S.loopBound(hi - lo); i < bound; i += L) {
                FloatVector v = FloatVector.fromArray(S, x, i);
                FloatVector v2 = v.mul(v);
                FloatVector th = DetMath.tanh(v.add(v2.mul(v).mul(0.044715f)).mul(GELU_K));
                FloatVector sech2 = th.mul(th).neg().add(1f);
                FloatVector grad = th.add(1f)
                        .mul(0.5f)
                        .add(v.mul(0.5f)
                                .mul(sech2)
                                .mul(GELU_K)
                                .mul(v2.mul(3f * 0.044715f).add(1f)));
                FloatVector.fromArray(S, dx, i)
                        .add(grad.mul(FloatVector.fromArray(S, d, i)))
                        .intoArray(dx, i);
            }
            for (; i < hi; i++) {
                float v = x[i];
                float th = DetMath.tanh(GELU_K * (v + 0.044715f * v * v * v));
                float sech2 = 1f - th * th;
                float grad = 0.5f * (1f + th) + 0.5f * v * sech2 * GELU_K * (1f + 3f * 0.044715f * v * v);
                dx[i] += grad * d[i];
            }
        });
    }

    @Override
    public void swiglu(Buf out, Buf gate, Buf up, long n) {
        float[] o = arr(out), ga = arr(gate), u = arr(up);
        // at start-up the scalar twin does it all (Parallel.scalarTwin: the same float operations,
        // the same bits): C1 compiles it at once, the vector exp ran the Vector API's Java fallback
        // (10% of a cold one-window ppl of a 15.7M Llama, Zen 3)
        boolean vector = !Parallel.scalarTwin(SWIGLU_COLD, n);
        chunks(n, (ch, lo, hi) -> swiglu(o, ga, u, lo, hi, vector));
    }

    private static final Parallel.ColdBudget RMSNORM_COLD = new Parallel.ColdBudget(),
            SWIGLU_COLD = new Parallel.ColdBudget(),
            ADD_COLD = new Parallel.ColdBudget(),
            // the loss of a cold one-window ppl (256 x 8192 logits) ran 0.5 s in the vector exp's
            // Java fallback (JFR, 15.7M Llama, Zen 3); the budget takes 256 tokens of a 32k vocabulary
            CE_COLD = new Parallel.ColdBudget(8_400_000L);

    /** o[i] = silu(g[i]) u[i] for i in [lo, hi): vector lanes and a scalar tail, or all scalar (same bits). */
    static void swiglu(float[] o, float[] ga, float[] u, int lo, int hi, boolean vector) {
        int i = vector ? swigluLanes(o, ga, u, lo, lo + S.loopBound(hi - lo)) : lo;
        for (; i < hi; i++) {
            float x = ga[i];
            o[i] = x * DetMath.sigmoid(x) * u[i];
        }
    }

    /**
     * The vector part of {@link #swiglu(float[], float[], float[], int, int, boolean)}, [lo, bound);
     * returns bound. A method of its own, as for every kernel with a scalar twin: in one method with
     * the twin, C2 compiled the caller while only the twin had run, trapped when the vector loop
     * first ran, and recompiled it from a profile with hardly any vector calls in it; the vector
     * ops were then left as calls (FloatVector.div not inlined: "no static binding") and ran the
     * Java fallback for the rest of the process (10% of a 64-window ppl of a 15.7M Llama, JFR, Zen 5).
     */
    private static int swigluLanes(float[] o, float[] ga, float[] u, int lo, int bound) {
        int i = lo;
        for (; i < bound; i += L) {
            FloatVector x = FloatVector.fromArray(S, ga, i);
            FloatVector s = DetMath.sigmoid(x);
            x.mul(s).mul(FloatVector.fromArray(S, u, i)).intoArray(o, i);
        }
        return i;
    }

    @Override
    public void swigluBackward(Buf dgate, Buf dup, Buf dout, Buf gate, Buf up, long n) {
        float[] dg = arr(dgate), du = arr(dup), d = arr(dout), ga = arr(gate), u = arr(up);
        chunks(n, (ch, lo, hi) -> {
            int i = lo;
            for (int bound = lo + S.loopBound(hi - lo); i < bound; i += L) {
                FloatVector x = FloatVector.fromArray(S, ga, i);
                FloatVector s = DetMath.sigmoid(x);
                FloatVector dv = FloatVector.fromArray(S, d, i);
                FloatVector dsilu = s.mul(x.mul(s.neg().add(1f)).add(1f));
                FloatVector.fromArray(S, dg, i)
                        .add(dv.mul(FloatVector.fromArray(S, u, i)).mul(dsilu))
                        .intoArray(dg, i);
                FloatVector.fromArray(S, du, i).add(dv.mul(x.mul(s))).intoArray(du, i);
            }
            for (; i < hi; i++) {
                float x = ga[i];
                float s = DetMath.sigmoid(x);
                dg[i] += d[i] * u[i] * (s * (1f + x * (1f - s)));
                du[i] += d[i] * (x * s);
            }
        });
    }

    // ---- loss ------------------------------------------------------------------------------

    /** Row block over which FP32 lane sums of exp run before they are added in double. */
    private static final int CE_BLOCK = 512;

    @Override
    public void crossEntropy(Buf losses, Buf dlogits, Buf logits, int[] targets, int N, int V, float dscale) {
        float[] l = arr(losses), dl = arr(dlogits), z = arr(logits);
        boolean vector = !Parallel.scalarTwin(CE_COLD, (long) N * V);
        par.forChunks(N, 1, (ch, lo, hi) -> {
            for (int n = lo; n < hi; n++) {
                crossEntropyRow(l, dl, z, n, targets[n], V, dscale, vector);
            }
        });
    }

    /**
     * One row of the fused softmax cross-entropy. A method of its own so that C2 compiles it (with
     * the vector intrinsics) after a few rows: inlined into the per-chunk loop, which runs only
     * twice per call, it stayed in on-stack-replacement code that left DetMath.exp's vectors boxed.
     * exp(z - max) is computed once: stored into dl while summed, then scaled in place.
     */
    static void crossEntropyRow(float[] l, float[] dl, float[] z, int n, int tgt, int V, float dscale, boolean vector) {
        int off = n * V;
        if (tgt < 0) {
            l[n] = 0f;
            if (dl != null) {
                java.util.Arrays.fill(dl, off, off + V, 0f);
            }
            return;
        }
        // the max is the same whatever the order (Math.max orders -0 below +0; a NaN gives NaN)
        float max = vector ? VectorMath.max(z, off, V) : VectorMath.maxScalar(z, off, V);
        float zt = z[off + tgt]; // before dl (which may alias z) overwrites it
        double sum = 0;
        int i = 0;
        float[] lanes = vector ? null : new float[L];
        while (i < V) {
            int end = Math.min(V, i + CE_BLOCK), bound = i + S.loopBound(end - i);
            double s = vector
                    ? expSumLanes(z, dl, off + i, off + bound, max)
                    : expSumTwin(z, dl, off + i, off + bound, max, lanes);
            for (i = bound; i < end; i++) {
                float e = DetMath.exp(z[off + i] - max);
                if (dl != null) {
                    dl[off + i] = e;
                }
                s += e;
            }
            sum += s;
        }
        double lse = max + Math.log(sum);
        l[n] = (float) (lse - zt);
        if (dl != null) {
            float pt = (float) Math.exp(zt - lse);
            // softmax as exp(z - max) / sum: the subtraction stays exact in float
            float inv = (float) (1.0 / sum);
            i = 0;
            for (int bound = vector ? S.loopBound(V) : 0; i < bound; i += L) {
                FloatVector.fromArray(S, dl, off + i).mul(inv).mul(dscale).intoArray(dl, off + i);
            }
            for (; i < V; i++) {
                dl[off + i] = dl[off + i] * inv * dscale;
            }
            dl[off + tgt] = (pt - 1f) * dscale;
        }
    }

    /**
     * Σ exp(z[i] - max) over [lo, hi) (a multiple of L long) in vector lanes, each stored into dl
     * when it is not null; then the lane tree. Apart from its twin (see {@link #swigluLanes}).
     */
    private static float expSumLanes(float[] z, float[] dl, int lo, int hi, float max) {
        FloatVector acc = FloatVector.zero(S);
        if (dl != null) {
            for (int i = lo; i < hi; i += L) {
                FloatVector e = DetMath.exp(FloatVector.fromArray(S, z, i).sub(max));
                e.intoArray(dl, i);
                acc = acc.add(e);
            }
        } else {
            for (int i = lo; i < hi; i += L) {
                acc = acc.add(DetMath.exp(FloatVector.fromArray(S, z, i).sub(max)));
            }
        }
        return DetMath.sumLanes(acc);
    }

    /**
     * The scalar twin of {@link #expSumLanes} (start-up, Parallel.scalarTwin): lane l of the vector
     * sum is lanes[l], the same adds in the same order, then the same lane tree.
     */
    private static float expSumTwin(float[] z, float[] dl, int lo, int hi, float max, float[] lanes) {
        java.util.Arrays.fill(lanes, 0f);
        for (int i = lo; i < hi; i += L) {
            for (int k = 0; k < L; k++) {
                float e = DetMath.exp(z[i + k] - max);
                if (dl != null) {
                    dl[i + k] = e;
                }
                lanes[k] += e;
            }
        }
        return DetMath.sumLanes(lanes);
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
        // same operations in the same order as the reference (no fma): results are bit-identical
        chunks(n, (ch, lo, hi) -> {
            int i = lo;
            for (int bound = lo + S.loopBound(hi - lo); i < bound; i += L) {
                FloatVector gv = FloatVector.fromArray(S, ga, i);
                FloatVector mv = FloatVector.fromArray(S, ma, i);
                mv = mv.add(gv.sub(mv).mul(w1));
                FloatVector vv =
                        FloatVector.fromArray(S, va, i).mul(b2).add(gv.mul(w2).mul(gv));
                FloatVector denom =
                        vv.lanewise(VectorOperators.SQRT).div(bc2Sqrt).add(eps);
                FloatVector pv = FloatVector.fromArray(S, pa, i).mul(decay);
                pv = pv.add(mv.div(denom).mul(-stepSize));
                mv.intoArray(ma, i);
                vv.intoArray(va, i);
                pv.intoArray(pa, i);
            }
            for (; i < hi; i++) {
                pa[i] *= decay;
                ma[i] += w1 * (ga[i] - ma[i]);
                va[i] = va[i] * b2 + w2 * ga[i] * ga[i];
                float denom = (float) Math.sqrt(va[i]) / bc2Sqrt + eps;
                pa[i] += -stepSize * (ma[i] / denom);
            }
        });
    }

    @Override
    public void grokfastEma(Buf g, Buf mu, long n, float alpha, float lambda) {
        float[] ga = arr(g), m = arr(mu);
        float w = 1f - alpha;
        chunks(n, (ch, lo, hi) -> {
            int i = lo;
            for (int bound = lo + S.loopBound(hi - lo); i < bound; i += L) {
                FloatVector gv = FloatVector.fromArray(S, ga, i);
                FloatVector mv = FloatVector.fromArray(S, m, i).mul(alpha).add(gv.mul(w));
                mv.intoArray(m, i);
                gv.add(mv.mul(lambda)).intoArray(ga, i);
            }
            for (; i < hi; i++) {
                m[i] = m[i] * alpha + ga[i] * w;
                ga[i] += m[i] * lambda;
            }
        });
    }

    @Override
    public double sumSquares(Buf x, long n) {
        float[] a = arr(x);
        int nn = Math.toIntExact(n);
        double[] part = new double[par.chunkCount(nn, MIN_CHUNK)];
        par.forChunks(nn, MIN_CHUNK, (ch, lo, hi) -> {
            // squares in double lanes: 8 floats widened per step
            DoubleVector acc = DoubleVector.zero(SD);
            int i = lo;
            for (int bound = lo + SH.loopBound(hi - lo); i < bound; i += SH.length()) {
                DoubleVector dv =
                        (DoubleVector) FloatVector.fromArray(SH, a, i).convertShape(VectorOperators.F2D, SD, 0);
                acc = dv.fma(dv, acc);
            }
            double s = DetMath.sumLanes(acc);
            for (; i < hi; i++) {
                s += (double) a[i] * a[i];
            }
            part[ch] = s;
        });
        double s = 0;
        for (double p : part) {
            s += p;
        }
        return s;
    }

    @Override
    public void scale(Buf x, long n, float s) {
        float[] a = arr(x);
        chunks(n, (ch, lo, hi) -> {
            int i = lo;
            for (int bound = lo + S.loopBound(hi - lo); i < bound; i += L) {
                FloatVector.fromArray(S, a, i).mul(s).intoArray(a, i);
            }
            for (; i < hi; i++) {
                a[i] *= s;
            }
        });
    }

    @Override
    public void axpy(Buf y, Buf x, long n, float a) {
        float[] ya = arr(y), xa = arr(x);
        chunks(n, (ch, lo, hi) -> VectorMath.axpy(ya, lo, xa, lo, hi - lo, a));
    }

    // ---- the newer families' elementwise ops: threads over chunks; erf and tanh per element

    @Override
    public void geluErf(Buf out, Buf inp, long n) {
        float[] o = arr(out), x = arr(inp);
        chunks(n, (ch, lo, hi) -> {
            for (int i = lo; i < hi; i++) {
                o[i] = geluErf(x[i]);
            }
        });
    }

    @Override
    public void geluErfBackward(Buf dinp, Buf dout, Buf inp, long n) {
        float[] dx = arr(dinp), d = arr(dout), x = arr(inp);
        chunks(n, (ch, lo, hi) -> {
            for (int i = lo; i < hi; i++) {
                dx[i] += geluErfGrad(x[i]) * d[i];
            }
        });
    }

    @Override
    public void geglu(Buf out, Buf gate, Buf up, long n) {
        float[] o = arr(out), ga = arr(gate), u = arr(up);
        chunks(n, (ch, lo, hi) -> {
            for (int i = lo; i < hi; i++) {
                o[i] = geluTanh(ga[i]) * u[i];
            }
        });
    }

    @Override
    public void gegluBackward(Buf dgate, Buf dup, Buf dout, Buf gate, Buf up, long n) {
        float[] dg = arr(dgate), du = arr(dup), d = arr(dout), ga = arr(gate), u = arr(up);
        chunks(n, (ch, lo, hi) -> {
            for (int i = lo; i < hi; i++) {
                dg[i] += d[i] * u[i] * geluTanhGrad(ga[i]);
                du[i] += d[i] * geluTanh(ga[i]);
            }
        });
    }

    @Override
    public void softcap(Buf out, Buf inp, long n, float cap) {
        float[] o = arr(out), x = arr(inp);
        chunks(n, (ch, lo, hi) -> {
            for (int i = lo; i < hi; i++) {
                o[i] = cap * (float) Math.tanh(x[i] / cap);
            }
        });
    }

    @Override
    public void softcapBackward(Buf dinp, Buf dout, Buf inp, long n, float cap) {
        float[] dx = arr(dinp), d = arr(dout), x = arr(inp);
        chunks(n, (ch, lo, hi) -> {
            for (int i = lo; i < hi; i++) {
                float t = (float) Math.tanh(x[i] / cap);
                dx[i] = d[i] * (1f - t * t);
            }
        });
    }
}
