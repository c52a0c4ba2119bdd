package bitnet.engine.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import bitnet.engine.model.HfTensor;
import bitnet.engine.model.Model;
import java.lang.foreign.Arena;
import org.junit.jupiter.api.Test;

/** QAT's targets: the linear weights, plus what a fake quantization says it also covers (int4 embeddings). */
class QatTest {
    @Test
    void alsoQuantizedTensorsSeeTheirFakeQuantizedValuesUntilRelease() {
        try (Arena a = Arena.ofShared();
                Model m = GuardAndFlowTest.load("llama", a)) {
            HfTensor emb = m.tensors().get("model.embed_tokens.weight");
            float[] latent = m.getHf(emb);
            // a stand-in rule: halve the embedding, leave every linear weight as it is
            FakeQuant fq = new FakeQuant() {
                @Override
                public float[] apply(String name, float[] w, int rows, int cols) {
                    if (!name.equals(emb.name())) {
                        return w;
                    }
                    float[] h = w.clone();
                    for (int i = 0; i < h.length; i++) {
                        h[i] *= 0.5f;
                    }
                    return h;
                }

                @Override
                public boolean alsoQuantizes(HfTensor t) {
                    return t == emb;
                }
            };
            Qat q = new Qat(m, fq);
            assertTrue(q.targets().contains(emb));
            assertEquals(
                    m.tensors().values().stream().filter(Qat::isTarget).count() + 1,
                    q.targets().size());
            q.quantize();
            var p = emb.parts().get(0);
            for (int i = 0; i < 50; i++) {
                int r = i * 3 % p.rows, c = i * 7 % p.cols;
                assertEquals(
                        0.5f * latent[r * p.cols + c], p.weight.get(r, c), "forward sees the fake-quantized value");
            }
            assertArrayEquals(latent, m.getHf(emb), "the latent is untouched");
            q.release();
            assertEquals(latent[5], p.weight.get(0, 5), "release points the forward back at the latent");
        }
    }
}
