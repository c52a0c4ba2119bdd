package bitnet.engine.util;

import java.io.PrintStream;
import java.util.Locale;

/**
 * A progress bar with rate and ETA on stderr. On a terminal it redraws one line; otherwise
 * (logs, CI) it prints a line at most every few seconds, so logs stay readable.
 */
public final class Progress {
    private final String label;
    private long total;
    private final String unit;
    private final PrintStream out = System.err;
    private final boolean tty = System.console() != null;
    private final long start = System.nanoTime();
    private long lastPrint;
    private long done;
    private final boolean quiet = Boolean.getBoolean("bitnet.quiet");

    public Progress(String label, long total, String unit) {
        this.label = label;
        this.total = Math.max(total, 1);
        this.unit = unit;
    }

    /** Changes the total (a time budget refits the step count as the run goes). */
    public void total(long total) {
        this.total = Math.max(total, 1);
    }

    /** Sets progress to done units; extra is appended (e.g. "loss 3.21"). */
    public void update(long done, String extra) {
        this.done = done;
        long now = System.nanoTime();
        if (quiet || (now - lastPrint < (tty ? 200_000_000L : 5_000_000_000L) && done < total)) {
            return;
        }
        lastPrint = now;
        double secs = (now - start) / 1e9;
        double rate = done / Math.max(secs, 1e-9);
        double eta = rate > 0 ? (total - done) / rate : 0;
        int width = 24;
        int filled = (int) (width * done / total);
        String bar = "#".repeat(filled) + "-".repeat(width - filled);
        String line = String.format(
                Locale.ROOT,
                "%s [%s] %d/%d %s, %.1f %s/s, elapsed %s, ETA %s%s",
                label,
                bar,
                done,
                total,
                unit,
                rate,
                unit,
                fmt(secs),
                fmt(eta),
                extra == null || extra.isEmpty() ? "" : ", " + extra);
        if (tty) {
            out.print("\r" + line + "\u001b[K");
            if (done >= total) {
                out.println();
            }
        } else {
            out.println(line);
        }
        out.flush();
    }

    public void finish(String extra) {
        lastPrint = 0;
        update(total, extra);
    }

    public double elapsedSeconds() {
        return (System.nanoTime() - start) / 1e9;
    }

    static String fmt(double s) {
        long t = Math.round(s);
        return t >= 3600
                ? String.format(Locale.ROOT, "%d:%02d:%02d", t / 3600, (t / 60) % 60, t % 60)
                : String.format(Locale.ROOT, "%d:%02d", t / 60, t % 60);
    }
}
