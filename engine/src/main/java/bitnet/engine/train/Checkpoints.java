package bitnet.engine.train;

import bitnet.engine.model.Model;
import bitnet.engine.model.Param;
import bitnet.io.BadInputException;
import bitnet.io.SafetensorsFile;
import bitnet.io.SafetensorsWriter;
import bitnet.io.TensorData;
import bitnet.kernels.Buf;
import bitnet.kernels.Kernels;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Training checkpoints: parameters (FP32 latents), AdamW moments, Grokfast state, step and
 * guard counters in one safetensors file, written under a temporary name and renamed, so a
 * kill at any moment leaves either the previous checkpoint or the new one. The data position
 * and RNG are functions of (seed, step), so the step is all a resume needs of them.
 */
public final class Checkpoints {
    static final String FILE = "trainer_state.safetensors";

    public record State(int step, float lrScale, double bestEval, int badEvals, int restarts) {}

    private Checkpoints() {}

    public static boolean exists(Path dir) {
        return Files.isRegularFile(dir.resolve(FILE));
    }

    public static void save(Path dir, Model m, Optimizer opt, State s) {
        Kernels k = m.k;
        List<TensorData> ts = new ArrayList<>();
        for (Param p : opt.params()) {
            ts.add(TensorData.ofFloats("param." + p.name, k.download(p.value), p.size()));
        }
        List<Buf> state = opt.stateBuffers();
        for (int i = 0; i < state.size(); i++) {
            ts.add(TensorData.ofFloats(
                    String.format("opt.%05d", i),
                    k.download(state.get(i)),
                    state.get(i).size()));
        }
        int[] c = opt.filterCounters();
        Map<String, String> meta = Map.of(
                "step",
                Integer.toString(s.step()),
                "lr_scale",
                Float.toString(s.lrScale()),
                "best_eval",
                Double.toString(s.bestEval()),
                "bad_evals",
                Integer.toString(s.badEvals()),
                "restarts",
                Integer.toString(s.restarts()),
                "opt_step",
                Integer.toString(opt.step),
                "filter",
                c[0] + "," + c[1] + "," + c[2],
                "grokfast",
                opt.settings.grokfast().toString());
        try {
            Files.createDirectories(dir);
            SafetensorsWriter.write(dir.resolve(FILE), ts, meta);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write checkpoint in " + dir, e);
        }
    }

    public static State load(Path dir, Model m, Optimizer opt) {
        Path f = dir.resolve(FILE);
        Kernels k = m.k;
        try (Arena arena = Arena.ofShared()) {
            SafetensorsFile sf = SafetensorsFile.open(f, arena);
            Map<String, String> meta = sf.metadata();
            if (!opt.settings.grokfast().toString().equals(meta.get("grokfast"))) {
                throw new BadInputException(
                        f,
                        "checkpoint was made with --grokfast " + meta.get("grokfast") + ", this run uses "
                                + opt.settings.grokfast());
            }
            for (Param p : opt.params()) {
                float[] v = sf.get("param." + p.name).toFloatArray();
                if (v.length != p.size()) {
                    throw new BadInputException(
                            f, "parameter " + p.name + " has " + v.length + " values, the model " + p.size());
                }
                Buf tmp = k.upload(v);
                k.copy(p.value, 0, tmp, 0, p.size());
                tmp.close();
            }
            List<Buf> state = opt.stateBuffers();
            for (int i = 0; i < state.size(); i++) {
                float[] v = sf.get(String.format("opt.%05d", i)).toFloatArray();
                Buf tmp = k.upload(v);
                k.copy(state.get(i), 0, tmp, 0, state.get(i).size());
                tmp.close();
            }
            String[] fc = meta.get("filter").split(",");
            opt.restoreCounters(
                    Integer.parseInt(meta.get("opt_step")),
                    new int[] {Integer.parseInt(fc[0]), Integer.parseInt(fc[1]), Integer.parseInt(fc[2])});
            return new State(
                    Integer.parseInt(meta.get("step")),
                    Float.parseFloat(meta.get("lr_scale")),
                    Double.parseDouble(meta.get("best_eval")),
                    Integer.parseInt(meta.get("bad_evals")),
                    Integer.parseInt(meta.get("restarts")));
        } catch (RuntimeException e) {
            if (e instanceof BadInputException) {
                throw e;
            }
            throw new BadInputException(f, "unreadable training checkpoint: " + e.getMessage(), e);
        }
    }
}
