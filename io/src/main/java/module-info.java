/**
 * File formats: safetensors (mapped, validated, written), sharded indexes, pytorch_model.bin
 * (restricted unpickler), config.json, tokenizer.json, and the packed ternary format. Exports the
 * typed input error and tensor types to everyone, the rest only to the engine's own modules.
 */
module bitnet.io {
    requires transitive com.fasterxml.jackson.databind;

    exports bitnet.io;
    exports bitnet.io.packed to
            bitnet.kernels,
            bitnet.engine;
    exports bitnet.io.tokenizer to
            bitnet.engine;
    exports bitnet.io.gguf to
            bitnet.engine;
}
