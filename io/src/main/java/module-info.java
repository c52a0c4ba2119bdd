/**
 * File formats: safetensors (mapped, validated, written), sharded indexes, pytorch_model.bin
 * (restricted unpickler), config.json, tokenizer.json, and the packed ternary format. Exports the
 * typed input error, the tensor and dtype types (the ternary bit layouts {@code Packing} and
 * {@code TernaryPacking} among them: the kernels decode them, the packed format names them) to
 * everyone; the file formats ({@code bitnet.io.packed}, {@code bitnet.io.gguf}) and the tokenizer
 * only to the engine.
 */
module bitnet.io {
    requires transitive com.fasterxml.jackson.databind;

    exports bitnet.io;
    exports bitnet.io.packed to
            bitnet.engine;
    exports bitnet.io.tokenizer to
            bitnet.engine;
    exports bitnet.io.gguf to
            bitnet.engine;
}
