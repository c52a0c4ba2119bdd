package bitnet.engine.compress;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** sensitive_int8's choice: the most summed gain within the spare bytes, not the best gain per byte first. */
class SensitiveLayersTest {
    @Test
    void knapsackTakesTheBestSetThatFits() {
        // the demo's case in small: one big layer gains more than the small ones that fit beside each other
        List<String> names = List.of("v0", "up0", "o0", "v1", "k3");
        Map<String, Double> gain = Map.of("v0", 0.074, "up0", 0.184, "o0", 0.032, "v1", 0.044, "k3", -0.001);
        Map<String, Long> extra = Map.of("v0", 13_824L, "up0", 73_728L, "o0", 27_648L, "v1", 13_824L, "k3", 13_824L);
        assertEquals(List.of("up0"), SensitiveLayers.knapsack(names, gain, extra, 75_848));
        // with room for everything that helps, everything that helps (never a layer that hurts)
        assertEquals(List.of("v0", "up0", "o0", "v1"), SensitiveLayers.knapsack(names, gain, extra, 1_000_000));
        // the small ones when the big one does not fit
        assertEquals(List.of("v0", "o0", "v1"), SensitiveLayers.knapsack(names, gain, extra, 60_000));
        assertEquals(List.of(), SensitiveLayers.knapsack(names, gain, extra, 10_000));
    }

    @Test
    void int4EmbeddingsWhenTheLayersTheyMakeRoomForGainMore() {
        List<String> names = List.of("v0", "up0", "o0", "v1", "k3");
        Map<String, Double> gain = Map.of("v0", 0.074, "up0", 0.184, "o0", 0.032, "v1", 0.044, "k3", -0.001);
        Map<String, Long> extra = Map.of("v0", 13_824L, "up0", 73_728L, "o0", 27_648L, "v1", 13_824L, "k3", 13_824L);
        // the demo's case: int8 embeddings leave room for up0 (0.184); int4 for all that helps (0.334)
        SensitiveLayers.Choice c = SensitiveLayers.decide(names, gain, extra, 75_848, 796_784, 0.0161);
        assertEquals(true, c.int4());
        assertEquals(List.of("v0", "up0", "o0", "v1"), c.layers());
        assertEquals(0.184, c.gain8(), 1e-12);
        assertEquals(0.334 - 0.0161, c.gain4(), 1e-12);
        // int4 costing more than the extra layers gain: int8 and its own set
        c = SensitiveLayers.decide(names, gain, extra, 75_848, 796_784, 0.2);
        assertEquals(false, c.int4());
        assertEquals(List.of("up0"), c.layers());
        // no more room with int4 than without (a large model's small embedding): int8
        c = SensitiveLayers.decide(names, gain, extra, 1_000_000, 1_000_000, 0.0001);
        assertEquals(false, c.int4());
        assertEquals(List.of("v0", "up0", "o0", "v1"), c.layers());
    }
}
