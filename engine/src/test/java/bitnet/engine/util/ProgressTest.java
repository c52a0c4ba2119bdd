package bitnet.engine.util;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** The bar shows the refitted total of a time budget, not the step count it started with. */
class ProgressTest {
    @Test
    void aChangedTotalIsWhatTheBarShows() {
        PrintStream saved = System.err;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        try {
            System.setErr(new PrintStream(buf, true, StandardCharsets.UTF_8));
            Progress p = new Progress("fine-tune", 600, "steps");
            p.update(0, "");
            p.total(202);
            p.finish("done");
        } finally {
            System.setErr(saved);
        }
        String out = buf.toString(StandardCharsets.UTF_8);
        assertTrue(out.contains("0/600 steps"), out);
        assertTrue(out.contains("202/202 steps"), out);
    }
}
