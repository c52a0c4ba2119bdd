package bitnet.api;

import bitnet.engine.quant.Quantizer;
import bitnet.engine.train.FakeQuant;

/** Quantizer specs to fake-quantization for QAT (package-private helper). */
final class FineTuning {
    private FineTuning() {}

    static FakeQuant fakeQuant(String spec) {
        Quantizer q = Quantizer.parse(spec);
        return (name, w, rows, cols) -> q.quantize(name, w, rows, cols).dequantize();
    }
}
