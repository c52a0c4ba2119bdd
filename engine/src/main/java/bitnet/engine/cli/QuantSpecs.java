package bitnet.engine.cli;

import bitnet.engine.quant.Quantizer;
import bitnet.engine.train.FakeQuant;

/** Maps --qat / quantizer specs onto the quantizers. */
public final class QuantSpecs {
    private QuantSpecs() {}

    /** null for "off"; IllegalArgumentException for an unknown spec. */
    public static FakeQuant fakeQuant(String spec) {
        if (spec == null || spec.equals("off") || spec.equals("none")) {
            return null;
        }
        return fakeQuant(Quantizer.parse(spec));
    }

    public static FakeQuant fakeQuant(Quantizer q) {
        return (name, w, rows, cols) -> q.quantize(name, w, rows, cols).dequantize();
    }
}
