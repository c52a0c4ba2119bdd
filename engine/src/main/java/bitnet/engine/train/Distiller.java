package bitnet.engine.train;

import bitnet.engine.model.Model;
import bitnet.kernels.Buf;
import bitnet.kernels.Kernels;
import java.util.Arrays;

/**
 * One distillation loss-and-backward (settings and the loss in {@link Distill}): the student's
 * forward, then the frozen teacher's forward on the same batch chunk by chunk (so only chunk × T
 * rows of teacher logits exist at once; the teacher's weights stay as stored, e.g. BF16 mapped),
 * the logits gradient written into the student's logits in place, the relation gradients of the
 * chosen layers handed to the student's backward through {@link Model#qkvGrad}.
 *
 * <p>Softmaxes run on the backend through its fused cross-entropy kernel with target 0: its
 * gradient is softmax(z) − e₀, and the e₀ cancels in p_student − p_teacher. Relation matrices
 * X·Xᵀ and their backward are the backend's matmul on one (T, HS) head at a time. Loss values
 * (KL terms) are computed on the host only when asked (measure), since training needs only
 * gradients.
 */
public final class Distiller {
    private final Model teacher;
    private final Kernels k;
    private final Distill d;
    private final int[] layers;
    private final int nh, nkv, hs;
    /** Nanoseconds spent in the teacher's forward passes, the student's forward passes, and all of lossAndBackward. */
    public long teacherNanos, studentForwardNanos, totalNanos;

    private long callStart;
    /** From the last call: mean next-token CE; and, when measured, mean KL of the logits, the relation loss, the total. */
    public double lastCe, lastKl = Double.NaN, lastRel = Double.NaN, lastTotal = Double.NaN;

    private Buf sc,
            tl,
            so,
            lossA,
            lossB; // (rows, V) x3 (so on first use), (rows), (rows) for the current chunk of rows
    private int scRows = -1;
    private Buf xs, xt, ss, st, dx1, dx2, lossR; // one head: (T, HS) x2, (T, T) x2, (T, HS) x2, (T)
    private int relT = -1;
    private int[] zeros = new int[0];

    public Distiller(Model teacher, Distill d) {
        if (!d.on()) {
            throw new IllegalArgumentException("distillation is off");
        }
        d.validate();
        this.teacher = teacher;
        this.k = teacher.k;
        this.d = d;
        this.layers = d.attention() ? d.resolve(teacher.cfg.numLayers()) : new int[0];
        if (d.attention() && layers.length == 0) {
            throw new IllegalArgumentException(
                    "distill_layers " + Arrays.toString(d.layers()) + " names no layer of " + teacher.cfg.numLayers());
        }
        this.nh = teacher.cfg.numHeads();
        this.nkv = teacher.cfg.numKvHeads();
        this.hs = teacher.cfg.headDim();
    }

    public Distill settings() {
        return d;
    }

    /**
     * The student's loss and its backward (accumulating into gradients); returns the mean CE part.
     * A batch whose activations do not fit the free heap runs as micro-batches of whole sequences
     * (every term is a sum over rows scaled by the whole batch's counts, so the gradients add up).
     */
    public double lossAndBackward(Model s, int[] in, int[] tg, int B, int T, boolean measure) {
        callStart = System.nanoTime();
        if (s.cfg.vocabSize() != teacher.cfg.vocabSize() || s.cfg.numLayers() != teacher.cfg.numLayers()) {
            throw new IllegalArgumentException("teacher and student differ in vocabulary or layers");
        }
        int count = 0;
        for (int t : tg) {
            count += t >= 0 ? 1 : 0;
        }
        int all = count;
        double[] sums = new double[3]; // ce, kl, relation
        s.microBatches(B, T, true, (b0, nb) -> {
            int[] mi = Arrays.copyOfRange(in, b0 * T, (b0 + nb) * T);
            int[] mt = Arrays.copyOfRange(tg, b0 * T, (b0 + nb) * T);
            double[] part = microBatch(s, mi, mt, nb, T, B, all, measure);
            for (int i = 0; i < 3; i++) {
                sums[i] += part[i];
            }
            return part[0];
        });
        int N = B * T;
        float temp = d.temperature(), alpha = d.alpha();
        lastCe = count == 0 ? 0 : sums[0] / count;
        lastKl = measure ? sums[1] / N : Double.NaN;
        lastRel = measure ? sums[2] : Double.NaN;
        lastTotal = measure
                ? (1 - alpha) * lastCe + alpha * temp * temp * lastKl + (layers.length > 0 ? lastRel : 0)
                : Double.NaN;
        totalNanos += System.nanoTime() - callStart;
        return lastCe;
    }

    /**
     * Forward, loss and backward of sequences (mb, T) of a batch of B sequences holding count
     * targets: the student's layers, then per teacher chunk of sequences the teacher's layers, and
     * per chunk of rows the two heads' logits, their gradient and the student's head backward (so
     * no more than one chunk of rows of logits exists at a time, the teacher's included).
     * Returns {sum of CE, sum of KL (measured), relation loss (measured)}.
     */
    private double[] microBatch(Model s, int[] in, int[] tg, int mb, int T, int B, int count, boolean measure) {
        long t0 = System.nanoTime();
        s.forwardHidden(in, mb, T);
        studentForwardNanos += System.nanoTime() - t0;
        int V = s.cfg.vocabSize(), N = B * T;
        float temp = d.temperature(), alpha = d.alpha();
        boolean shortcut = temp == 1f && count == N; // every position of the whole batch has a target
        int bc = Math.min(d.chunk(), mb);
        int rows = s.headChunkRows(bc * T);
        scratch(rows, V);
        // attention: the student's q, k, v of each chosen layer (host), and their gradients (host, added up over
        // chunks)
        float[][][] sq = new float[layers.length][3][], gq = new float[layers.length][3][];
        for (int li = 0; li < layers.length; li++) {
            Buf[] b = s.qkv(layers[li]);
            for (int r = 0; r < 3; r++) {
                sq[li][r] = k.download(b[r]);
                gq[li][r] = new float[sq[li][r].length];
            }
        }
        double ce = 0, kl = 0;
        relSum = 0;
        float[] l = new float[rows];
        for (int b0 = 0; b0 < mb; b0 += bc) {
            int nb = Math.min(bc, mb - b0), n = nb * T;
            long tt = System.nanoTime();
            teacher.forwardHidden(Arrays.copyOfRange(in, b0 * T, b0 * T + n), nb, T);
            teacherNanos += System.nanoTime() - tt;
            for (int r0 = 0; r0 < n; r0 += rows) {
                int m = Math.min(rows, n - r0), row = b0 * T + r0; // row: in the student's micro-batch
                long nv = (long) m * V;
                tt = System.nanoTime();
                teacher.headLogits(tl, r0, m); // (m, V) teacher logits
                teacherNanos += System.nanoTime() - tt;
                s.headLogits(sc, row, m); // (m, V) student logits
                if (measure) {
                    kl += klRows(k.download(tl), k.download(sc), m, V, 1 / temp);
                }
                int[] tgc = Arrays.copyOfRange(tg, row, row + m);
                if (shortcut) {
                    // T = 1: (1-a)(p_s - y) + a(p_s - p_t) = (p_s - y) - a(p_t - y),
                    // two cross-entropy passes with the real targets instead of four softmax passes
                    k.crossEntropy(lossA, tl, tl, tgc, m, V, 1f); // tl = p_t - y
                    k.crossEntropy(lossB, sc, sc, tgc, m, V, 1f / N); // sc = (p_s - y) / N
                    k.axpy(sc, tl, nv, -alpha / N);
                    ce += sum(lossB, l, m);
                    s.headBackward(sc, row, m);
                    continue;
                }
                if (so == null) {
                    so = k.alloc((long) rows * V);
                }
                k.copy(so, 0, sc, 0, nv); // the student's logits, for the CE term below
                k.scale(tl, nv, 1 / temp);
                k.crossEntropy(lossA, tl, tl, zeros, m, V, 1f); // tl = p_t - e0
                k.scale(sc, nv, 1 / temp);
                k.crossEntropy(lossB, sc, sc, zeros, m, V, 1f); // sc = p_s - e0
                k.axpy(sc, tl, nv, -1f); // sc = p_s - p_t
                k.crossEntropy(lossA, so, so, tgc, m, V, count == 0 ? 0f : (1 - alpha) / count); // so = (1-alpha) dCE
                ce += sum(lossA, l, m);
                // d/ds of alpha T² KL(p_t || p_s), p = softmax(z / T), is alpha T (p_s - p_t); mean over all N
                // positions
                k.axpy(so, sc, nv, alpha * temp / N);
                s.headBackward(so, row, m);
            }
            relationChunk(s, sq, gq, b0, nb, B, T, measure);
        }
        if (layers.length > 0) {
            if (s.qkvGrad == null) {
                s.qkvGrad = new Buf[s.cfg.numLayers()][];
            }
            for (int li = 0; li < layers.length; li++) {
                Buf[] g = s.qkvGrad[layers[li]];
                if (g == null || g[0].size() != gq[li][0].length) {
                    g = s.qkvGrad[layers[li]] = new Buf[3];
                }
                for (int r = 0; r < 3; r++) {
                    if (g[r] != null) {
                        g[r].close();
                    }
                    g[r] = k.upload(gq[li][r]);
                }
            }
        }
        s.backwardHidden(in);
        return new double[] {ce, kl, relSum};
    }

    /** Sum of the first n values of a (host copy in l). */
    private double sum(Buf a, float[] l, int n) {
        k.download(a, l, n);
        double x = 0;
        for (int i = 0; i < n; i++) {
            x += l[i];
        }
        return x;
    }

    private double relSum;

    /** Relation distillation of every chosen layer and relation for sequences b0..b0+nb (the teacher's current chunk). */
    private void relationChunk(Model s, float[][][] sq, float[][][] gq, int b0, int nb, int B, int T, boolean measure) {
        for (int li = 0; li < layers.length; li++) {
            Buf[] tb = teacher.qkv(layers[li]);
            for (int r = 0; r < 3; r++) {
                int heads = r == 0 ? nh : nkv;
                // weight per relation row: beta, mean over layers, over the B * heads * T rows of this relation
                float w = d.beta() / (layers.length * (float) B * heads * T);
                relSum += relation(sq[li][r], gq[li][r], k.download(tb[r]), b0, nb, T, heads, w, measure) * w;
            }
        }
    }

    /**
     * Relation distillation of one relation (q, k or v; heads of HS columns) for sequences
     * b0..b0+nb of the batch: adds w * d(sum of row KLs)/dX into g (student layout (N, heads*HS));
     * returns the sum of row KLs when measured (0 otherwise). xsAll is the student's whole batch,
     * xtAll the teacher's chunk.
     */
    private double relation(
            float[] xsAll, float[] g, float[] xtAll, int b0, int nb, int T, int heads, float w, boolean measure) {
        relScratch(T);
        int dim = heads * hs, th = T * hs;
        float inv = (float) (1 / Math.sqrt(hs));
        float[] hostS = new float[th], hostT = new float[th], hostD = new float[th];
        double sum = 0;
        for (int b = 0; b < nb; b++) {
            for (int h = 0; h < heads; h++) {
                for (int t = 0; t < T; t++) {
                    System.arraycopy(xsAll, ((b0 + b) * T + t) * dim + h * hs, hostS, t * hs, hs);
                    System.arraycopy(xtAll, (b * T + t) * dim + h * hs, hostT, t * hs, hs);
                }
                Buf us = k.upload(hostS), ut = k.upload(hostT);
                k.copy(xs, 0, us, 0, th);
                k.copy(xt, 0, ut, 0, th);
                us.close();
                ut.close();
                var ws = k.weight(xs, T, hs);
                k.matmul(ss, xs, ws, null, T, hs, T); // (T, T) = X_s X_sᵀ
                k.matmul(st, xt, k.weight(xt, T, hs), null, T, hs, T);
                k.scale(ss, (long) T * T, inv);
                k.scale(st, (long) T * T, inv);
                if (measure) {
                    sum += klRows(k.download(st), k.download(ss), T, T, 1f);
                }
                k.crossEntropy(lossR, ss, ss, zeros, T, T, 1f); // R_s - e0
                k.crossEntropy(lossR, st, st, zeros, T, T, 1f); // R_t - e0
                k.axpy(ss, st, (long) T * T, -1f); // G = R_s - R_t = d(row KLs)/dS
                k.scale(ss, (long) T * T, w * inv); // through S = X Xᵀ / √HS, weighted
                k.zero(dx1);
                k.zero(dx2);
                k.matmulBackward(dx1, dx2, null, ss, xs, ws, T, hs, T); // dx1 = G X, dx2 = Gᵀ X
                k.add(dx1, dx1, dx2, th);
                k.download(dx1, hostD, th);
                for (int t = 0; t < T; t++) {
                    int o = ((b0 + b) * T + t) * dim + h * hs;
                    for (int j = 0; j < hs; j++) {
                        g[o + j] += hostD[t * hs + j];
                    }
                }
            }
        }
        return sum;
    }

    /** Sum over rows of KL(softmax(a·scale) || softmax(b·scale)) for row-major (rows, V) arrays, in double. */
    static double klRows(float[] a, float[] b, int rows, int V, float scale) {
        double sum = 0;
        for (int r = 0; r < rows; r++) {
            int o = r * V;
            double ma = Double.NEGATIVE_INFINITY, mb = Double.NEGATIVE_INFINITY;
            for (int i = 0; i < V; i++) {
                ma = Math.max(ma, a[o + i] * (double) scale);
                mb = Math.max(mb, b[o + i] * (double) scale);
            }
            double za = 0, zb = 0;
            for (int i = 0; i < V; i++) {
                za += Math.exp(a[o + i] * (double) scale - ma);
                zb += Math.exp(b[o + i] * (double) scale - mb);
            }
            double lsa = ma + Math.log(za), lsb = mb + Math.log(zb), row = 0;
            for (int i = 0; i < V; i++) {
                double la = a[o + i] * (double) scale - lsa, lb = b[o + i] * (double) scale - lsb;
                row += Math.exp(la) * (la - lb);
            }
            sum += row;
        }
        return sum;
    }

    private void scratch(int n, int V) {
        if (zeros.length < n) {
            zeros = new int[n];
        }
        if (scRows != n) {
            for (Buf b : new Buf[] {sc, tl, so, lossA, lossB}) {
                if (b != null) {
                    b.close();
                }
            }
            sc = k.alloc((long) n * V);
            tl = k.alloc((long) n * V);
            so = null; // only for temperatures other than 1
            lossA = k.alloc(n);
            lossB = k.alloc(n);
            scRows = n;
        }
    }

    private void relScratch(int T) {
        if (relT == T) {
            return;
        }
        for (Buf b : new Buf[] {xs, xt, ss, st, dx1, dx2, lossR}) {
            if (b != null) {
                b.close();
            }
        }
        long th = (long) T * hs;
        xs = k.alloc(th);
        xt = k.alloc(th);
        ss = k.alloc((long) T * T);
        st = k.alloc((long) T * T);
        dx1 = k.alloc(th);
        dx2 = k.alloc(th);
        lossR = k.alloc(T);
        relT = T;
        if (zeros.length < T) {
            zeros = new int[T];
        }
    }

    /** Frees the scratch and the student's relation gradients (the teacher is the caller's). */
    public void release(Model student) {
        for (Buf b : new Buf[] {sc, tl, so, lossA, lossB, xs, xt, ss, st, dx1, dx2, lossR}) {
            if (b != null) {
                b.close();
            }
        }
        scRows = relT = -1;
        if (student.qkvGrad != null) {
            for (Buf[] g : student.qkvGrad) {
                if (g != null) {
                    for (Buf b : g) {
                        b.close();
                    }
                }
            }
            student.qkvGrad = null;
        }
    }
}
