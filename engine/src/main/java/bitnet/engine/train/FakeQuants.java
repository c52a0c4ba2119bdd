package bitnet.engine.train;

import bitnet.engine.quant.Quantizer;

/** Quantizer specs ({@code --qat}) to the fake quantization of QAT. */
public final class FakeQuants {
    private FakeQuants() {}

    /** null for "off" / "none" / null; IllegalArgumentException for an unknown spec. */
    public static FakeQuant of(String spec) {
        if (spec == null || spec.equals("off") || spec.equals("none")) {
            return null;
        }
        return of(Quantizer.parse(spec));
    }

    /** The straight-through fake quantization of a quantizer: quantize, then dequantize. */
    public static FakeQuant of(Quantizer q) {
        return (name, w, rows, cols) -> q.quantize(name, w, rows, cols).dequantize();
    }
}
