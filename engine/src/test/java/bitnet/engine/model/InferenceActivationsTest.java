package bitnet.engine.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import bitnet.engine.TestData;
import bitnet.io.Checkpoint;
import bitnet.kernels.cpu.VectorKernels;
import java.io.IOException;
import java.lang.foreign.Arena;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A loss without gradients (ppl, evaluation) runs its forward over one set of activations shared
 * by every layer and two residual buffers used in turn (Model#sharedActs); it must give the bits
 * of the forward that keeps every layer for backward, in every family (each reads and writes its
 * buffers in its own order), and a model that switches between the two (evaluation during
 * fine-tuning) must stay right both ways.
 */
class InferenceActivationsTest {
    static final int B = ChunkedLossTest.B, T = ChunkedLossTest.T;

    static int[] ids(int V, int seed) {
        return ChunkedLossTest.ids(V, seed);
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama", "qwen3", "gpt2", "gpt_neox", "gpt_neox-seq", "gemma3", "phi3"})
    void sharedActivationsGiveTheBitsOfPerLayerOnes(String family) throws IOException {
        try (Arena arena = Arena.ofConfined();
                Model train = Models.load(
                        Checkpoint.open(TestData.hfTiny(family), arena), new VectorKernels(1), Model.Mode.TRAIN);
                Model infer = Models.load(
                        Checkpoint.open(TestData.hfTiny(family), arena), new VectorKernels(1), Model.Mode.TRAIN)) {
            int[] in = ids(train.cfg.vocabSize(), 7), in2 = ids(train.cfg.vocabSize(), 8);
            int[] tg = Model.shiftedTargets(in, B, T), tg2 = Model.shiftedTargets(in2, B, T);
            double withActs = train.loss(in, tg, B, T, true); // keeps every layer (backward follows)
            double shared = infer.loss(in, tg, B, T, false); // one set for all layers
            assertTrue(withActs > 0 && Double.isFinite(withActs), family + ": loss " + withActs);
            assertEquals(withActs, shared, 0.0, family + ": shared activations, the same bits");
            int L = train.cfg.numLayers();
            assertTrue(
                    L >= 2 && infer.activationFloats() * L < train.activationFloats() * 2,
                    family + ": shared " + infer.activationFloats() + " floats vs per layer "
                            + train.activationFloats());
            // the inference model trains next (per-layer activations again), then evaluates another batch
            assertEquals(withActs, infer.loss(in, tg, B, T, true), 0.0, family + ": after shared, per layer");
            double other = train.loss(in2, tg2, B, T, true);
            assertEquals(other, infer.loss(in2, tg2, B, T, false), 0.0, family + ": per-layer buffers serve inference");
            assertTrue(other != withActs, family + ": the second batch is another loss");
        }
    }
}
