package bitnet.engine.train;

import bitnet.engine.model.HfTensor;
import bitnet.engine.model.Model;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The gradient-flow check of a saved model (the seed's test_gradient_flow): one forward and
 * backward of the next-token loss on real token ids, then every parameter is inspected. It fails
 * (naming the parameter) on non-finite values, a non-finite loss, a parameter without gradient
 * (all zeros), a non-finite gradient, or a gradient norm above {@link #MAX_NORM}.
 */
public final class GradientFlow {
    /** A gradient norm above this after one batch means the model is numerically broken. */
    public static final double MAX_NORM = 1e4;

    public record Report(boolean passed, double loss, List<String> problems, List<Map<String, Object>> parameters) {
        public Map<String, Object> toMap() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("passed", passed);
            m.put("loss", Double.isFinite(loss) ? loss : String.valueOf(loss));
            m.put("problems", problems);
            m.put("parameters_checked", parameters.size());
            m.put("parameters", parameters);
            return m;
        }
    }

    private GradientFlow() {}

    public static Report check(Model m, int[] ids, int B, int T) {
        List<String> problems = new ArrayList<>();
        for (HfTensor t : m.tensors().values()) {
            int bad = nonFinite(m.getHf(t));
            if (bad > 0) {
                problems.add(t.name() + ": " + bad + " non-finite values (NaN/Inf) in the weights");
            }
        }
        m.zeroGrad();
        double loss = m.loss(ids, Model.shiftedTargets(ids, B, T), B, T, true);
        if (!Double.isFinite(loss)) {
            problems.add("loss is " + loss);
        }
        List<Map<String, Object>> params = new ArrayList<>();
        for (HfTensor t : m.tensors().values()) {
            float[] g = m.gradHf(t);
            double ss = 0;
            int bad = 0;
            for (float x : g) {
                if (!Float.isFinite(x)) {
                    bad++;
                } else {
                    ss += (double) x * x;
                }
            }
            double norm = Math.sqrt(ss);
            String status = "ok";
            if (bad > 0) {
                status = bad + " non-finite gradient values";
            } else if (norm == 0) {
                status = "no gradient (all zeros)";
            } else if (norm > MAX_NORM) {
                status = "gradient norm " + norm + " above " + MAX_NORM;
            }
            if (!status.equals("ok")) {
                problems.add(t.name() + ": " + status);
            }
            Map<String, Object> e = new LinkedHashMap<>();
            e.put("name", t.name());
            e.put("grad_norm", Double.isFinite(norm) ? norm : String.valueOf(norm));
            e.put("status", status);
            params.add(e);
        }
        m.zeroGrad();
        return new Report(problems.isEmpty(), loss, problems, params);
    }

    static int nonFinite(float[] v) {
        int n = 0;
        for (float x : v) {
            if (!Float.isFinite(x)) {
                n++;
            }
        }
        return n;
    }
}
