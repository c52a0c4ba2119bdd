package bitnet.engine.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import bitnet.engine.compress.CompressConfig;
import bitnet.engine.model.Model;
import bitnet.engine.util.MetricsLog;
import java.lang.foreign.Arena;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** compress --time-budget: the run stops when the budget is spent and its schedule ends where the run does. */
class TimeBudgetTest {

    @Test
    void runFitsItsScheduleToTheBudget() {
        try (Arena a = Arena.ofShared();
                Model m = GuardAndFlowTest.load("llama", a);
                MetricsLog log = new MetricsLog(null, false)) {
            double budget = 3.0;
            // a step budget far beyond what fits: the time budget decides
            TrainConfig cfg = new TrainConfig(
                    1_000_000, 2, 8, 1, 1e-3f, 0.1f, 5, 1.0f, 0f, 0.9f, 0.95f, 1e-8f, Grokfast.OFF, 0, 1, 3, 0, 1);
            Trainer t = new Trainer(m, null, cfg, GuardAndFlowTest.ids(m, 500), null, log, null);
            t.timeBudget(budget);
            long t0 = System.nanoTime();
            Trainer.Result r = t.run(false);
            double secs = (System.nanoTime() - t0) / 1e9;
            assertTrue(r.steps() > 10 && r.steps() < 1_000_000, "steps " + r.steps());
            assertEquals(r.steps(), t.config().steps(), "the schedule's length is the run's");
            assertTrue(secs < budget * 1.5 + 1, "stopped near the budget: " + secs + " s");
            assertTrue(secs > budget * 0.5, "used most of the budget: " + secs + " s");
            List<Map<String, Object>> train = log.events().stream()
                    .filter(e -> e.get("event").equals("train"))
                    .toList();
            double lastLr = ((Number) train.get(train.size() - 1).get("lr")).doubleValue();
            assertTrue(lastLr < 1e-3 * 0.3, "the cosine has decayed by the last step: lr " + lastLr);
            assertTrue(log.events().stream().anyMatch(e -> e.get("event").equals("time_budget")));
        }
    }

    @Test
    void durationsParse() {
        assertEquals(600, CompressConfig.parseDuration("10m"));
        assertEquals(90, CompressConfig.parseDuration("90s"));
        assertEquals(75, CompressConfig.parseDuration("75"));
        assertEquals(5400, CompressConfig.parseDuration("1.5h"));
        assertEquals(0, CompressConfig.parseDuration(""));
        assertThrows(IllegalArgumentException.class, () -> CompressConfig.parseDuration("ten minutes"));
        assertThrows(IllegalArgumentException.class, () -> CompressConfig.parseDuration("-5m"));
    }

    /**
     * A tiny model without a step, epoch or time budget gets 420 distilled steps (600 plain ones),
     * cut to 2 minutes per million parameters, at least 6; any of them set explicitly replaces it.
     */
    @Test
    void tinyModelsGetATimeBudgetThatGrowsWithTheirSize() throws Exception {
        CompressConfig c = new CompressConfig();
        assertEquals("tiny", c.adaptToSize(3_196_608));
        assertEquals(384, c.timeBudgetSeconds(), "the demo: 2 minutes per million parameters");
        assertEquals(420, c.fine_tune_steps, "distilled steps cost more than plain ones");
        CompressConfig mid = new CompressConfig();
        mid.adaptToSize(15_733_632);
        assertEquals(1888, mid.timeBudgetSeconds(), "a 15.7M Llama");
        CompressConfig least = new CompressConfig();
        least.adaptToSize(1_000_000);
        assertEquals(360, least.timeBudgetSeconds(), "never less than 6 minutes");
        CompressConfig plain = new CompressConfig();
        plain.set("distill", new com.fasterxml.jackson.databind.ObjectMapper().readTree("\"off\""));
        plain.adaptToSize(3_196_608);
        assertEquals(600, plain.fine_tune_steps, "plain QAT keeps 600 steps");
        for (String[] kv : new String[][] {
            {"fine_tune_steps", "50"}, {"fine_tune_epochs", "1.0"}, {"fine_tune_time_budget", "\"2m\""}
        }) {
            CompressConfig e = new CompressConfig();
            e.set(kv[0], new com.fasterxml.jackson.databind.ObjectMapper().readTree(kv[1]));
            e.adaptToSize(3_196_608);
            assertEquals(kv[0].equals("fine_tune_time_budget") ? 120 : 0, e.timeBudgetSeconds(), kv[0]);
        }
        CompressConfig small = new CompressConfig();
        assertEquals("small", small.adaptToSize(135_000_000));
        assertEquals(0, small.timeBudgetSeconds());
    }

    @Test
    void distillSettingsParseAndValidate() {
        CompressConfig c = new CompressConfig();
        assertEquals(Distill.Mode.LOGITS, c.distillSettings().mode(), "the default");
        c.distill = "off";
        assertEquals(Distill.Mode.OFF, c.distillSettings().mode());
        c.distill = "logits+attention";
        c.distill_layers = "0,-1";
        Distill d = c.distillSettings();
        assertEquals(Distill.Mode.LOGITS_ATTENTION, d.mode());
        assertEquals(
                List.of(0, 3), java.util.Arrays.stream(d.resolve(4)).boxed().toList());
        c.distill = "soft";
        assertThrows(IllegalArgumentException.class, c::validate);
        c.distill = "logits";
        c.distill_alpha = 1.5;
        assertThrows(IllegalArgumentException.class, c::validate);
    }
}
