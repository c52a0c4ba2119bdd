package bitnet.kernels.cpu;

import bitnet.io.Packing;
import bitnet.kernels.Buf;
import bitnet.kernels.ternary.TernaryWeight;
import java.io.DataOutputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;

/**
 * Runs every CPU kernel (VectorKernels ops and the ternary products) once on fixed small inputs with
 * odd sizes (vector tails included) and returns the outputs by op name. Used by
 * {@link TierDeterminismTest} in the test JVM and, through {@link #main}, in child JVMs that only
 * interpret (-Xint: the Vector API's Java fallbacks) or compile the kernels with C2 up front.
 * Not a test by itself.
 */
final class TierProbe {
    private TierProbe() {}

    static float[] rnd(int n, long seed) {
        Random r = new Random(seed);
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) r.nextGaussian() * 2f;
        }
        return a;
    }

    private static float[] cat(float[]... parts) {
        int n = 0;
        for (float[] p : parts) {
            n += p.length;
        }
        float[] r = new float[n];
        int o = 0;
        for (float[] p : parts) {
            System.arraycopy(p, 0, r, o, p.length);
            o += p.length;
        }
        return r;
    }

    /** Each op's outputs, in a fixed op order; k is reused so its thread pool stays warm. */
    static Map<String, float[]> runAll(VectorKernels k) {
        Map<String, float[]> m = new LinkedHashMap<>();
        int N = 9, C = 51, OC = 37, V = 301;
        Buf x = k.upload(rnd(N * C, 1)),
                w = k.upload(rnd(OC * C, 2)),
                out = k.alloc(N * OC),
                d = k.upload(rnd(N * OC, 3));
        var W = k.weight(w, OC, C);
        k.matmul(out, x, W, null, N, C, OC);
        m.put("matmul", k.download(out));
        Buf x1 = k.upload(rnd(2 * C, 15)), out1 = k.alloc(2 * OC);
        k.matmul(out1, x1, W, null, 2, C, OC);
        m.put("matmulRows", k.download(out1));
        Buf dx = k.alloc(N * C), dw = k.alloc(OC * C), db = k.alloc(OC);
        k.matmulBackward(dx, dw, db, d, x, W, N, C, OC);
        m.put("matmulBackward", cat(k.download(dx), k.download(dw), k.download(db)));
        Buf nw = k.upload(rnd(C, 4)), rs = k.alloc(N), o2 = k.alloc(N * C);
        k.rmsnorm(o2, rs, x, nw, N, C, 1e-5f);
        m.put("rmsnorm", cat(k.download(o2), k.download(rs)));
        Buf dn = k.alloc(N * C), dnw = k.alloc(C), dout = k.upload(rnd(N * C, 5));
        k.rmsnormBackward(dn, dnw, dout, x, nw, rs, N, C);
        m.put("rmsnormBackward", cat(k.download(dn), k.download(dnw)));
        Buf lb = k.upload(rnd(C, 16)), mean = k.alloc(N), rstd = k.alloc(N);
        k.layernorm(o2, mean, rstd, x, nw, lb, N, C, 1e-5f);
        m.put("layernorm", cat(k.download(o2), k.download(mean), k.download(rstd)));
        Buf dlb = k.alloc(C);
        k.zero(dn);
        k.zero(dnw);
        k.layernormBackward(dn, dnw, dlb, dout, x, nw, mean, rstd, N, C);
        m.put("layernormBackward", cat(k.download(dn), k.download(dnw), k.download(dlb)));
        int B = 2, T = 19, NH = 4, NKV = 2, HS = 12;
        Buf q = k.upload(rnd(B * T * NH * HS, 6)),
                kk = k.upload(rnd(B * T * NKV * HS, 7)),
                vv = k.upload(rnd(B * T * NKV * HS, 8));
        Buf ao = k.alloc(B * T * NH * HS), att = k.alloc(B * NH * T * T);
        k.attention(ao, att, q, kk, vv, B, T, T, NH, NKV, HS, 0);
        m.put("attention", cat(k.download(ao), k.download(att)));
        Buf dq = k.alloc(B * T * NH * HS), dk = k.alloc(B * T * NKV * HS), dv = k.alloc(B * T * NKV * HS);
        Buf dao = k.upload(rnd(B * T * NH * HS, 9));
        k.attentionBackward(dq, dk, dv, dao, att, q, kk, vv, B, T, NH, NKV, HS);
        m.put("attentionBackward", cat(k.download(dq), k.download(dk), k.download(dv)));
        Buf lg = k.upload(rnd(N * V, 10)), ls = k.alloc(N), dl = k.alloc(N * V);
        int[] tg = new int[N];
        for (int i = 0; i < N; i++) {
            tg[i] = i == 3 ? -1 : (i * 37) % V;
        }
        k.crossEntropy(ls, dl, lg, tg, N, V, 0.1f);
        m.put("crossEntropy", cat(k.download(ls), k.download(dl)));
        int E = N * C;
        Buf g1 = k.upload(rnd(E, 11)), u1 = k.upload(rnd(E, 12)), so = k.alloc(E);
        k.swiglu(so, g1, u1, E);
        m.put("swiglu", k.download(so));
        Buf dg = k.alloc(E), du = k.alloc(E);
        k.swigluBackward(dg, du, dout, g1, u1, E);
        m.put("swigluBackward", cat(k.download(dg), k.download(du)));
        k.gelu(so, g1, E);
        m.put("gelu", k.download(so));
        k.zero(dg);
        k.geluBackward(dg, dout, g1, E);
        m.put("geluBackward", k.download(dg));
        m.put("sumSquares", new float[] {(float) k.sumSquares(x, E), (float) (k.sumSquares(x, E) * 1e6 % 1.0)});
        Buf p = k.upload(rnd(E, 20)), mm = k.alloc(E), vm = k.alloc(E), g = k.upload(rnd(E, 21));
        k.grokfastEma(g, mm, E, 0.98f, 2f);
        k.adamw(p, mm, vm, g, E, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.01f, 3);
        m.put("grokfastAdamw", cat(k.download(p), k.download(mm), k.download(vm), k.download(g)));
        // ternary products: dot4 + permuted tail rows, int8 activations, backward axpy; C spans a full block and a tail
        int TC = 300, TR = 11, TN = 6;
        Random r = new Random(30);
        byte[] codes = new byte[TR * TC];
        for (int i = 0; i < codes.length; i++) {
            codes[i] = (byte) (r.nextInt(3) - 1);
        }
        float[] tx = rnd(TN * TC, 31), ts = {0.7f};
        for (Packing pk : Packing.values()) {
            TernaryWeight tw = TernaryWeight.pack(pk, codes, ts, TR, TC);
            float[] to = new float[TN * TR], ta = new float[TN * TR], tdx = new float[TN * TC];
            tw.matmulF32Into(to, tx, null, TN, TC, TR);
            tw.matmulA8Into(ta, tx, null, TN, TC, TR);
            tw.matmulBackwardInput(tdx, rnd(TN * TR, 32), TN, TC, TR);
            m.put("ternary " + pk, cat(to, ta, tdx));
        }
        return m;
    }

    /** Runs runAll args[1] times and writes the last outputs (name, length, float bits) to args[0]. */
    public static void main(String[] args) throws IOException {
        try (VectorKernels k = new VectorKernels(2);
                DataOutputStream out = new DataOutputStream(new FileOutputStream(args[0]))) {
            Map<String, float[]> m = runAll(k);
            for (int i = 1; i < Integer.parseInt(args[1]); i++) {
                m = runAll(k);
            }
            out.writeInt(m.size());
            for (var e : m.entrySet()) {
                out.writeUTF(e.getKey());
                out.writeInt(e.getValue().length);
                for (float f : e.getValue()) {
                    out.writeInt(Float.floatToRawIntBits(f));
                }
            }
        }
    }

    static String firstDiff(float[] a, float[] b) {
        if (a.length != b.length) {
            return "length " + a.length + " vs " + b.length;
        }
        for (int i = 0; i < a.length; i++) {
            if (Float.floatToIntBits(a[i]) != Float.floatToIntBits(b[i])) {
                return "index " + i + ": " + a[i] + " vs " + b[i];
            }
        }
        return Arrays.equals(a, b) ? null : "?";
    }
}
