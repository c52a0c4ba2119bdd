package bitnet.api;

import java.util.List;

/**
 * The result of {@link BitnetModel#gradients}: the mean next-token loss of a batch and the
 * gradient of that loss for every parameter tensor. Immutable list; the arrays are the
 * caller's.
 *
 * @param loss the mean next-token cross-entropy in nats
 * @param gradients one gradient per parameter tensor, under the checkpoint's names and shapes,
 *     in the order of {@link BitnetModel#parameters()}
 */
public record Gradients(double loss, List<NamedTensor> gradients) {
    /** Copies the list. */
    public Gradients {
        gradients = List.copyOf(gradients);
    }
}
