package bitnet.engine.tmp;

import bitnet.engine.TestData;
import bitnet.engine.model.*;
import bitnet.engine.train.*;
import bitnet.io.*;
import bitnet.kernels.cpu.ScalarKernels;
import java.lang.foreign.Arena;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class DbgTest {
    @Test
    void dbg() {
        for (String c : new String[] {"gpt_neox", "gpt_neox-seq", "gemma3", "phi3", "qwen3", "llama", "gpt2"}) {
        try (Arena arena = Arena.ofConfined()) {
            Path dir = TestData.hfTiny(c);
            SafetensorsFile refs = SafetensorsFile.open(dir.resolve("refs.safetensors"), arena);
            long[] idl = refs.get("input_ids").toLongArray();
            int[] ids = new int[idl.length];
            for (int i = 0; i < ids.length; i++) ids[i] = (int) idl[i];
            long[] shape = refs.get("input_ids").shape();
            try (Model m = Models.load(Checkpoint.open(dir, arena), new ScalarKernels(), Model.Mode.TRAIN)) {
                m.loss(ids, Model.shiftedTargets(ids, (int) shape[0], (int) shape[1]), (int) shape[0], (int) shape[1], true);
                for (HfTensor t : m.tensors().values()) {
                    TensorData ref = refs.tensors().get("grad." + t.name());
                    if (ref == null) continue;
                    float[] w = ref.toFloatArray(); float[] got = m.gradHf(t);
                    double mx = 0, mr = 0; int at = 0;
                    for (int i = 0; i < w.length; i++) { double d = Math.abs(w[i] - got[i]); if (d > mx) { mx = d; at = i; } if (Math.abs(w[i]) > 1e-6) mr = Math.max(mr, d / Math.abs(w[i])); }
                    System.out.println("G " + c + " " + t.name() + " maxabs " + mx + " at " + at + " maxrel(|g|>1e-6) " + mr + (t.name().contains("dense_4h_to_h.weight") ? " g1148 " + w[1148] + " vs " + got[1148] : ""));
                }
            }
        }
        }
        for (String c : new String[] {}) {
        for (String key : new String[] {"qat", "grokfast", "adamw"}) {
        Path dir = TestData.hfTiny(c);
        try (Arena arena = Arena.ofConfined()) {
            SafetensorsFile refs = SafetensorsFile.open(dir.resolve("refs.safetensors"), arena);
            long[] idl = refs.get("input_ids").toLongArray();
            int[] ids = new int[idl.length];
            for (int i = 0; i < ids.length; i++) ids[i] = (int) idl[i];
            long[] shape = refs.get("input_ids").shape();
            try (Model m = Models.load(Checkpoint.open(dir, arena), new ScalarKernels(), Model.Mode.TRAIN)) {
                var s = new Optimizer.Settings(1e-3f, 0.01f, 0.9f, 0.999f, 1e-8f, key.equals("adamw") ? Grokfast.OFF : Grokfast.parse("ema:0.98:2.0"));
                float[] losses = TrainSteps.run(m, ids, (int) shape[0], (int) shape[1], 5, s, key.equals("qat") ? bitnet.engine.cli.QuantSpecs.fakeQuant("seed:0.1") : null);
                float[] want = refs.get("train." + key + ".loss").toFloatArray();
                System.out.println(c + " " + key + " loss " + java.util.Arrays.toString(losses) + " want " + java.util.Arrays.toString(want));
                for (HfTensor t : m.tensors().values()) {
                    TensorData ref = refs.tensors().get("train." + key + ".param." + t.name());
                    if (ref == null) continue;
                    float[] w = ref.toFloatArray(); float[] got = m.getHf(t);
                    float mx = 0; int cnt = 0;
                    for (int i = 0; i < w.length; i++) { float d = Math.abs(w[i] - got[i]); mx = Math.max(mx, d); if (d > 1e-6) cnt++; }
                    System.out.println("  " + t.name() + " max " + mx + " n>1e-6 " + cnt);
                }
            }
        }
        }
        }
    }
}
