package bitnet.engine.compress;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * report.html: one self-contained page (inline CSS and SVG, no scripts, no network) that shows
 * at a glance what compression cost and won back: headline numbers, perplexity at each stage,
 * per-layer error and sparsity, loss and learning-rate curves, the quality gates.
 */
final class Report {
    private Report() {}

    @SuppressWarnings("unchecked")
    static String html(Map<String, Object> meta, List<Map<String, Object>> events) {
        Map<String, Object> results = (Map<String, Object>) meta.get("results");
        Map<String, Object> m = (Map<String, Object>) results.get("metrics");
        List<Map<String, Object>> layers = (List<Map<String, Object>>) meta.get("layers");
        boolean ok = Boolean.TRUE.equals(results.get("success"));
        StringBuilder h = new StringBuilder();
        h.append("<!doctype html><html><head><meta charset=\"utf-8\"><title>BitNet compression report</title><style>")
                .append("body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1100px}")
                .append(
                        "h1{font-size:22px}h2{font-size:17px;margin-top:28px}.cards{display:flex;flex-wrap:wrap;gap:12px}")
                .append(".card{border:1px solid #ddd;border-radius:8px;padding:10px 14px;min-width:150px}")
                .append(".card b{display:block;font-size:22px}.ok{color:#1a7f37}.bad{color:#c62828}")
                .append(
                        "table{border-collapse:collapse;font-size:12px}td,th{border-bottom:1px solid #eee;padding:3px 8px;text-align:right}")
                .append(
                        "td:first-child,th:first-child{text-align:left}svg{background:#fafafa;border:1px solid #eee;border-radius:6px}")
                .append("</style></head><body>");
        Map<String, Object> model = (Map<String, Object>) meta.get("model");
        h.append("<h1>BitNet b1.58 compression: ")
                .append(esc(String.valueOf(model.get("path"))))
                .append("</h1>");
        h.append("<p class=\"")
                .append(ok ? "ok" : "bad")
                .append("\"><b>")
                .append(
                        ok
                                ? "All quality gates passed"
                                : "Quality gate failed: " + esc(String.valueOf(results.get("error"))))
                .append("</b></p>");
        h.append("<div class=\"cards\">");
        card(h, "compression vs FP32", fmt(m.get("compression_ratio")) + "x");
        card(h, "vs stored dtype", fmt(m.get("compression_ratio_vs_stored")) + "x");
        card(h, "sparsity (zeros)", pct(m.get("sparsity_ratio")));
        card(h, "perplexity original", fmt(m.get("ppl_original")));
        card(h, "after quantization", fmt(m.get("ppl_quantized")));
        card(h, "final (FP16 output)", fmt(m.get("ppl_final")));
        card(h, "packed ternary output", fmt(m.get("ppl_packed")));
        card(h, "layers quantized / kept", m.get("layers_quantized") + " / " + m.get("layers_preserved"));
        if (m.containsKey("gguf_bytes")) {
            card(
                    h,
                    "GGUF for llama.cpp",
                    String.format(
                            java.util.Locale.ROOT,
                            "%,d bytes, %sx",
                            ((Number) m.get("gguf_bytes")).longValue(),
                            fmt(m.get("gguf_compression_ratio"))));
        }
        h.append("</div>");

        h.append("<h2>Perplexity by stage (held-out text)</h2>");
        h.append(bars(
                List.of("original", "quantized", "fine-tuned", "packed"),
                List.of(
                        num(m.get("ppl_original")),
                        num(m.get("ppl_quantized")),
                        num(m.get("ppl_final")),
                        num(m.get("ppl_packed"))),
                700,
                220,
                true));

        List<String> names = new ArrayList<>();
        List<Double> err = new ArrayList<>(), errFinal = new ArrayList<>(), sp = new ArrayList<>();
        for (Map<String, Object> l : layers) {
            names.add(shortName(String.valueOf(l.get("name"))));
            err.add(num(l.get("rel_error")));
            errFinal.add(num(l.get("final_rel_error")));
            sp.add(num(l.get("final_sparsity")));
        }
        if (!names.isEmpty()) {
            h.append("<h2>Per-layer relative error ‖w − s·q‖/‖w‖ (after fine-tuning)</h2>")
                    .append(bars(names, errFinal, 1000, 240, false));
            h.append("<h2>Per-layer sparsity (fraction of zeros)</h2>").append(bars(names, sp, 1000, 240, false));
        }
        List<double[]> loss = new ArrayList<>(), lr = new ArrayList<>(), evalc = new ArrayList<>();
        for (Map<String, Object> e : events) {
            if ("train".equals(e.get("event"))) {
                double s = num(e.get("step"));
                loss.add(new double[] {s, num(e.get("loss"))});
                lr.add(new double[] {s, num(e.get("lr"))});
            } else if ("eval".equals(e.get("event")) && e.get("step") != null) {
                evalc.add(new double[] {num(e.get("step")), num(e.get("ppl"))});
            }
        }
        if (!loss.isEmpty()) {
            h.append("<h2>Fine-tuning loss</h2>").append(line(loss, 1000, 240, "step", "loss"));
            h.append("<h2>Learning rate</h2>").append(line(lr, 1000, 160, "step", "lr"));
            if (!evalc.isEmpty()) {
                h.append("<h2>Held-out perplexity during fine-tuning</h2>")
                        .append(line(evalc, 1000, 200, "step", "ppl"));
                if (meta.get("fine_tune_eval_curve_note") != null) {
                    h.append("<p style=\"color:#888;font-size:12px\">")
                            .append(esc(String.valueOf(meta.get("fine_tune_eval_curve_note"))))
                            .append("</p>");
                }
            }
        } else {
            h.append("<p>No fine-tuning was run.</p>");
        }
        if (meta.get("distillation") instanceof Map<?, ?> dist) {
            h.append("<h2>Distillation</h2><table>");
            dist.forEach((k, v) -> h.append("<tr><td>")
                    .append(esc(String.valueOf(k)))
                    .append("</td><td>")
                    .append(v instanceof Number ? fmt(v) : esc(String.valueOf(v)))
                    .append("</td></tr>"));
            h.append("</table>");
        }
        h.append(
                "<h2>Layers</h2><table><tr><th>tensor</th><th>rel. error</th><th>final rel. error</th><th>MSE</th><th>sparsity</th><th>scale range</th></tr>");
        for (Map<String, Object> l : layers) {
            h.append("<tr><td>")
                    .append(esc(String.valueOf(l.get("name"))))
                    .append("</td><td>")
                    .append(fmt(l.get("rel_error")))
                    .append("</td><td>")
                    .append(fmt(l.get("final_rel_error")))
                    .append("</td><td>")
                    .append(sci(l.get("mse")))
                    .append("</td><td>")
                    .append(pct(l.get("final_sparsity")))
                    .append("</td><td>")
                    .append(sci(l.get("scale_min")))
                    .append(" – ")
                    .append(sci(l.get("scale_max")))
                    .append("</td></tr>");
        }
        h.append("</table>");
        h.append("<h2>Timings (s)</h2><table>");
        ((Map<String, Object>) results.get("timings_s"))
                .forEach((k, v) -> h.append("<tr><td>")
                        .append(esc(k))
                        .append("</td><td>")
                        .append(fmt(v))
                        .append("</td></tr>"));
        h.append("</table><p style=\"color:#888;font-size:12px\">quantizer ")
                .append(esc(String.valueOf(meta.get("quantizer"))))
                .append(", packing ")
                .append(esc(String.valueOf(meta.get("packing"))))
                .append(", degradation = relative increase of held-out cross-entropy")
                .append("</p></body></html>\n");
        return h.toString();
    }

    private static void card(StringBuilder h, String label, String value) {
        h.append("<div class=\"card\">")
                .append(esc(label))
                .append("<b>")
                .append(esc(value))
                .append("</b></div>");
    }

    static String bars(List<String> labels, List<Double> values, int w, int hgt, boolean labelsBelow) {
        double max = 1e-12;
        for (double v : values) {
            if (Double.isFinite(v)) {
                max = Math.max(max, v);
            }
        }
        int n = values.size();
        int left = 50, bottom = labelsBelow ? 30 : 90, top = 16;
        double bw = (w - left - 10.0) / Math.max(n, 1);
        StringBuilder s = new StringBuilder();
        s.append(String.format(
                Locale.ROOT,
                "<svg width=\"%d\" height=\"%d\" xmlns=\"http://www.w3.org/2000/svg\" font-size=\"10\">",
                w,
                hgt));
        s.append(String.format(Locale.ROOT, "<text x=\"4\" y=\"12\">max %s</text>", esc(fmt(max))));
        for (int i = 0; i < n; i++) {
            double v = Double.isFinite(values.get(i)) ? values.get(i) : 0;
            double bh = (hgt - top - bottom) * v / max;
            double x = left + i * bw;
            double y = hgt - bottom - bh;
            s.append(String.format(
                    Locale.ROOT,
                    "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#4a78c2\"><title>%s: %s</title></rect>",
                    x + 1,
                    y,
                    Math.max(bw - 2, 1),
                    bh,
                    esc(labels.get(i)),
                    esc(fmt(values.get(i)))));
            if (labelsBelow) {
                s.append(String.format(
                        Locale.ROOT,
                        "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s (%s)</text>",
                        x + bw / 2,
                        hgt - 12,
                        esc(labels.get(i)),
                        esc(fmt(values.get(i)))));
            } else {
                s.append(String.format(
                        Locale.ROOT,
                        "<text transform=\"translate(%.1f,%d) rotate(-60)\" text-anchor=\"end\">%s</text>",
                        x + bw / 2,
                        hgt - bottom + 8,
                        esc(labels.get(i))));
            }
        }
        return s.append("</svg>").toString();
    }

    static String line(List<double[]> pts, int w, int hgt, String xl, String yl) {
        double x0 = Double.MAX_VALUE, x1 = -Double.MAX_VALUE, y0 = Double.MAX_VALUE, y1 = -Double.MAX_VALUE;
        for (double[] p : pts) {
            if (!Double.isFinite(p[1])) {
                continue;
            }
            x0 = Math.min(x0, p[0]);
            x1 = Math.max(x1, p[0]);
            y0 = Math.min(y0, p[1]);
            y1 = Math.max(y1, p[1]);
        }
        if (x1 <= x0) {
            x1 = x0 + 1;
        }
        if (y1 <= y0) {
            y1 = y0 + 1e-12;
        }
        int left = 60, right = 10, top = 10, bottom = 24;
        StringBuilder path = new StringBuilder();
        for (double[] p : pts) {
            if (!Double.isFinite(p[1])) {
                continue;
            }
            double x = left + (p[0] - x0) / (x1 - x0) * (w - left - right);
            double y = top + (1 - (p[1] - y0) / (y1 - y0)) * (hgt - top - bottom);
            path.append(path.isEmpty() ? "M" : "L").append(String.format(Locale.ROOT, "%.1f,%.1f", x, y));
        }
        return String.format(
                Locale.ROOT,
                "<svg width=\"%d\" height=\"%d\" xmlns=\"http://www.w3.org/2000/svg\" font-size=\"10\">"
                        + "<path d=\"%s\" fill=\"none\" stroke=\"#c2554a\" stroke-width=\"1.5\"/>"
                        + "<text x=\"4\" y=\"%d\">%s %s</text><text x=\"4\" y=\"%d\">%s</text>"
                        + "<text x=\"%d\" y=\"%d\">%s %s → %s</text></svg>",
                w,
                hgt,
                path,
                top + 8,
                esc(yl),
                esc(sci(y1)),
                hgt - bottom,
                esc(sci(y0)),
                left,
                hgt - 6,
                esc(xl),
                esc(fmt(x0)),
                esc(fmt(x1)));
    }

    static String shortName(String n) {
        return n.replace("model.layers.", "L")
                .replace("transformer.h.", "L")
                .replace(".weight", "")
                .replace("self_attn.", "")
                .replace("mlp.", "");
    }

    static double num(Object o) {
        return o instanceof Number n ? n.doubleValue() : Double.NaN;
    }

    static String fmt(Object o) {
        double v = num(o);
        if (!Double.isFinite(v)) {
            return String.valueOf(o);
        }
        return Math.abs(v) >= 1000 ? String.format(Locale.ROOT, "%.0f", v) : String.format(Locale.ROOT, "%.3g", v);
    }

    static String sci(Object o) {
        double v = num(o);
        return Double.isFinite(v) ? String.format(Locale.ROOT, "%.2e", v) : String.valueOf(o);
    }

    static String pct(Object o) {
        double v = num(o);
        return Double.isFinite(v) ? String.format(Locale.ROOT, "%.1f%%", 100 * v) : String.valueOf(o);
    }

    static String esc(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
    }
}
