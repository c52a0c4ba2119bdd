package bitnet.api;

import bitnet.engine.train.GradientFlow;
import java.util.List;
import java.util.Map;

/**
 * The result of {@link BitnetModel#gradientFlow}: whether every parameter received a finite,
 * non-zero gradient of sensible size from one batch. Immutable.
 *
 * @param passed true when no problem was found
 * @param loss the batch's mean next-token loss in nats
 * @param problems one line per problem (a parameter without gradient, NaN/Inf, a huge norm)
 * @param parameters one entry per parameter tensor: {@code name}, {@code grad_norm} and the
 *     checks' details
 */
public record GradientFlowResult(
        boolean passed, double loss, List<String> problems, List<Map<String, Object>> parameters) {
    /** Copies the lists. */
    public GradientFlowResult {
        problems = List.copyOf(problems);
        parameters = List.copyOf(parameters);
    }

    /**
     * The result as one JSON-ready object: {@code passed}, {@code loss}, {@code problems},
     * {@code parameters_checked}, {@code parameters}.
     *
     * @return a new ordered map
     */
    public Map<String, Object> toMap() {
        return new GradientFlow.Report(passed, loss, problems, parameters).toMap();
    }
}
