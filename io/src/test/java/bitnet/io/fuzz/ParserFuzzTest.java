package bitnet.io.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;

/**
 * Jazzer fuzz tests, one per parser ({@link FuzzTargets} says what each covers and checks).
 * In a normal build (no JAZZER_FUZZ) Jazzer runs in regression mode: it replays the corpus in
 * src/test/resources/bitnet/io/fuzz/ParserFuzzTestInputs/&lt;method&gt;/ (seeds plus every crash
 * found so far) and fails on any finding. With JAZZER_FUZZ=1 it fuzzes one method, coverage-guided,
 * for maxDuration (see src/test/resources/fuzz/README.md). {@link MutationFuzzTest} adds a short
 * mutation run to every build, since regression mode alone explores nothing new.
 */
class ParserFuzzTest {
    @FuzzTest(maxDuration = "10m")
    void safetensors(byte[] data) {
        FuzzTargets.safetensors(data);
    }

    @FuzzTest(maxDuration = "10m")
    void torchBin(byte[] data) {
        FuzzTargets.torchBin(data);
    }

    @FuzzTest(maxDuration = "10m")
    void packed(byte[] data) {
        FuzzTargets.packed(data);
    }

    @FuzzTest(maxDuration = "10m")
    void config(byte[] data) {
        FuzzTargets.config(data);
    }

    @FuzzTest(maxDuration = "10m")
    void shardIndex(byte[] data) {
        FuzzTargets.shardIndex(data);
    }

    @FuzzTest(maxDuration = "10m")
    void tokenizer(byte[] data) {
        FuzzTargets.tokenizer(data);
    }

    @FuzzTest(maxDuration = "10m")
    void encode(byte[] data) {
        FuzzTargets.encode(data);
    }

    @FuzzTest(maxDuration = "10m")
    void gguf(byte[] data) {
        FuzzTargets.gguf(data);
    }
}
