package bitnet.engine.util;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** metrics.jsonl: one JSON object per event, flushed per line; also kept in memory for the report. */
public final class MetricsLog implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();
    private final BufferedWriter w;
    private final List<Map<String, Object>> events = new ArrayList<>();

    /** file may be null (keep in memory only). append continues an existing log (resume). */
    public MetricsLog(Path file, boolean append) {
        try {
            w = file == null
                    ? null
                    : Files.newBufferedWriter(
                            file,
                            StandardCharsets.UTF_8,
                            StandardOpenOption.CREATE,
                            append ? StandardOpenOption.APPEND : StandardOpenOption.TRUNCATE_EXISTING,
                            StandardOpenOption.WRITE);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private volatile java.util.function.Consumer<Map<String, Object>> observer = e -> {};

    /**
     * Calls o with each event after it is logged (progress listeners; a listener that throws, e.g.
     * to cancel, stops the caller of {@link #log}).
     */
    public MetricsLog observe(java.util.function.Consumer<Map<String, Object>> o) {
        this.observer = o;
        return this;
    }

    /** Logs an event: key/value pairs after the event name. */
    public synchronized void log(String event, Object... kv) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("event", event);
        m.put("time", System.currentTimeMillis() / 1000.0);
        for (int i = 0; i + 1 < kv.length; i += 2) {
            Object v = kv[i + 1];
            if (v instanceof Double d && (d.isNaN() || d.isInfinite())) {
                v = String.valueOf(d);
            }
            m.put(String.valueOf(kv[i]), v);
        }
        events.add(m);
        if (w != null) {
            try {
                w.write(JSON.writeValueAsString(m));
                w.newLine();
                w.flush();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        observer.accept(Collections.unmodifiableMap(m));
    }

    public synchronized List<Map<String, Object>> events() {
        return List.copyOf(events);
    }

    @Override
    public void close() {
        if (w != null) {
            try {
                w.close();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    }
}
