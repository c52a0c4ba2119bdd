package bitnet.engine.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import bitnet.engine.TestData;
import bitnet.io.Checkpoint;
import bitnet.io.SafetensorsFile;
import bitnet.io.TensorData;
import bitnet.kernels.Kernels;
import bitnet.kernels.cpu.ScalarKernels;
import java.lang.foreign.Arena;
import java.nio.file.Path;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** Forward, hidden states, loss and gradients against HuggingFace dumps (refs.safetensors). */
class ForwardParityTest {

    static String[] cases() {
        return TestData.HF_TINY;
    }

    static int[] ids(SafetensorsFile refs) {
        long[] l = refs.get("input_ids").toLongArray();
        int[] r = new int[l.length];
        for (int i = 0; i < l.length; i++) {
            r[i] = (int) l[i];
        }
        return r;
    }

    static float maxAbs(float[] a, float[] b) {
        assertEquals(a.length, b.length, "length");
        float m = 0;
        for (int i = 0; i < a.length; i++) {
            m = Math.max(m, Math.abs(a[i] - b[i]));
        }
        return m;
    }

    static void check(Model m, SafetensorsFile refs, int[] ids, int B, int T, String what) {
        Kernels k = m.k;
        float[] logits = k.download(m.forward(ids, B, T, null));
        float d = maxAbs(refs.get("logits").toFloatArray(), logits);
        assertTrue(d < 1e-4, what + ": logits differ by " + d);
        for (int i = 0; i <= m.cfg.numLayers(); i++) {
            float[] h = new float[B * T * m.cfg.hiddenSize()];
            k.download(m.hidden(i), h, h.length);
            float dh = maxAbs(refs.get("hidden." + i).toFloatArray(), h);
            assertTrue(dh < 1e-4, what + ": hidden." + i + " differs by " + dh);
        }
    }

    @ParameterizedTest
    @MethodSource("cases")
    void logitsHiddenLossAndGrads(String c) {
        Path dir = TestData.hfTiny(c);
        try (Arena arena = Arena.ofConfined()) {
            SafetensorsFile refs = SafetensorsFile.open(dir.resolve("refs.safetensors"), arena);
            int[] ids = ids(refs);
            long[] shape = refs.get("input_ids").shape();
            int B = (int) shape[0], T = (int) shape[1];
            Checkpoint ckpt = Checkpoint.open(dir, arena);
            try (Model infer = Models.load(ckpt, new ScalarKernels(), Model.Mode.INFER)) {
                check(infer, refs, ids, B, T, c + " (in place)");
                // the attention inputs distillation reads: one (q, k, v) per layer, shaped by the config
                for (int l = 0; l < infer.cfg.numLayers(); l++) {
                    Model.Attention at = infer.attention(l);
                    assertEquals((long) B * T * at.NH() * at.HS(), at.q().size(), c + ": q of layer " + l);
                    assertEquals((long) B * T * at.NKV() * at.HS(), at.k().size(), c + ": k of layer " + l);
                    assertEquals((long) B * T * at.NKV() * at.HS(), at.v().size(), c + ": v of layer " + l);
                    assertEquals(infer.cfg.numHeads(), at.NH());
                }
            }
            try (Model m = Models.load(ckpt, new ScalarKernels(), Model.Mode.TRAIN)) {
                check(m, refs, ids, B, T, c + " (fp32)");
                double loss = m.loss(ids, Model.shiftedTargets(ids, B, T), B, T, true);
                float refLoss = refs.get("loss").getFloat(0);
                assertEquals(refLoss, loss, 1e-5, c + ": loss");
                int n = 0;
                for (HfTensor t : m.tensors().values()) {
                    TensorData ref = refs.tensors().get("grad." + t.name());
                    if (ref == null) {
                        continue;
                    }
                    n++;
                    float[] want = ref.toFloatArray();
                    float[] got = m.gradHf(t);
                    for (int i = 0; i < want.length; i++) {
                        float err = Math.abs(want[i] - got[i]);
                        assertTrue(
                                err <= 1e-5 || err <= 1e-4 * Math.abs(want[i]),
                                c + ": grad." + t.name() + "[" + i + "] = " + got[i] + ", want " + want[i]);
                    }
                }
                assertTrue(n >= m.tensors().size() - 1, c + ": only " + n + " gradients compared");
            }
        }
    }
}
