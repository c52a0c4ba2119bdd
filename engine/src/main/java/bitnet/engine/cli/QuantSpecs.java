package bitnet.engine.cli;

import bitnet.engine.train.FakeQuant;

/** Maps --qat / quantizer specs onto the quantizers. */
final class QuantSpecs {
    private QuantSpecs() {
    }

    /** null for "off". */
    static FakeQuant fakeQuant(String spec) {
        if (spec == null || spec.equals("off") || spec.equals("none")) {
            return null;
        }
        throw new IllegalArgumentException("--qat " + spec + ": quantizers not yet available");
    }
}
