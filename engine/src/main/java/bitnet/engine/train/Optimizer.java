package bitnet.engine.train;

import bitnet.engine.model.Param;
import bitnet.kernels.Buf;
import bitnet.kernels.Kernels;
import java.util.ArrayList;
import java.util.List;

/**
 * AdamW with PyTorch's semantics (one parameter group, decoupled weight decay on every
 * parameter, bias correction, eps outside the square root) preceded by an optional Grokfast
 * filter on the gradients. State lives on the backend beside the parameters.
 */
public final class Optimizer implements AutoCloseable {
    public record Settings(float lr, float weightDecay, float beta1, float beta2, float eps, Grokfast grokfast) {}

    private final Kernels k;
    private final List<Param> params;
    public Settings settings;
    private final List<Buf> m = new ArrayList<>(), v = new ArrayList<>(), mu = new ArrayList<>();
    /** Grokfast MA: per parameter, a ring of the last window gradients and their running sum. */
    private final List<Buf[]> ring = new ArrayList<>();

    private final List<Buf> ringSum = new ArrayList<>();
    private int ringFill, ringPos;
    /** Steps taken (AdamW's step count starts at 1 on the first step). */
    public int step;

    private boolean muInit;

    public Optimizer(Kernels k, List<Param> trainable, Settings s) {
        this.k = k;
        this.params = List.copyOf(trainable);
        this.settings = s;
        for (Param p : params) {
            m.add(k.alloc(p.size()));
            v.add(k.alloc(p.size()));
            if (s.grokfast().type() == Grokfast.Type.EMA) {
                mu.add(k.alloc(p.size()));
            }
            if (s.grokfast().type() == Grokfast.Type.MA) {
                Buf[] r = new Buf[s.grokfast().window()];
                for (int i = 0; i < r.length; i++) {
                    r[i] = k.alloc(p.size());
                }
                ring.add(r);
                ringSum.add(k.alloc(p.size()));
            }
        }
    }

    public List<Param> params() {
        return params;
    }

    /** Applies the Grokfast filter to the current gradients (in place). */
    public void filter() {
        Grokfast gf = settings.grokfast();
        switch (gf.type()) {
            case OFF -> {}
            case EMA -> {
                for (int i = 0; i < params.size(); i++) {
                    Param p = params.get(i);
                    if (!muInit) {
                        k.copy(mu.get(i), 0, p.grad(k), 0, p.size());
                    }
                    k.grokfastEma(p.grad(k), mu.get(i), p.size(), gf.alpha(), gf.lambda());
                }
                muInit = true;
            }
            case MA -> {
                int w = gf.window();
                for (int i = 0; i < params.size(); i++) {
                    Param p = params.get(i);
                    Buf slot = ring.get(i)[ringPos];
                    Buf sum = ringSum.get(i);
                    if (ringFill == w) {
                        k.axpy(sum, slot, p.size(), -1f);
                    }
                    k.copy(slot, 0, p.grad(k), 0, p.size());
                    k.axpy(sum, slot, p.size(), 1f);
                    if (Math.min(ringFill + 1, w) == w) {
                        k.axpy(p.grad(k), sum, p.size(), gf.lambda() / w);
                    }
                }
                ringPos = (ringPos + 1) % w;
                ringFill = Math.min(ringFill + 1, w);
            }
        }
    }

    /** Global L2 norm of the gradients. */
    public double gradNorm() {
        double s = 0;
        for (Param p : params) {
            s += k.sumSquares(p.grad(k), p.size());
        }
        return Math.sqrt(s);
    }

    /** Scales gradients so their global norm is at most maxNorm (torch's clip_grad_norm_); returns the norm before. */
    public double clip(double maxNorm) {
        double n = gradNorm();
        if (maxNorm > 0 && n > maxNorm) {
            float c = (float) (maxNorm / (n + 1e-6));
            for (Param p : params) {
                k.scale(p.grad(k), p.size(), c);
            }
        }
        return n;
    }

    /** One AdamW step at learning rate lr. */
    public void step(float lr) {
        step++;
        Settings s = settings;
        for (int i = 0; i < params.size(); i++) {
            Param p = params.get(i);
            k.adamw(
                    p.value,
                    m.get(i),
                    v.get(i),
                    p.grad(k),
                    p.size(),
                    lr,
                    s.beta1(),
                    s.beta2(),
                    s.eps(),
                    s.weightDecay(),
                    step);
        }
    }

    /** The optimizer state buffers in a fixed order, for checkpoints: m, v, then filter state. */
    public List<Buf> stateBuffers() {
        List<Buf> all = new ArrayList<>(m);
        all.addAll(v);
        all.addAll(mu);
        for (Buf[] r : ring) {
            all.addAll(List.of(r));
        }
        all.addAll(ringSum);
        return all;
    }

    /** Filter bookkeeping for checkpoints: {muInit, ringFill, ringPos}. */
    public int[] filterCounters() {
        return new int[] {muInit ? 1 : 0, ringFill, ringPos};
    }

    public void restoreCounters(int step, int[] c) {
        this.step = step;
        this.muInit = c[0] != 0;
        this.ringFill = c[1];
        this.ringPos = c[2];
    }

    @Override
    public void close() {
        for (Buf b : stateBuffers()) {
            b.close();
        }
    }
}
