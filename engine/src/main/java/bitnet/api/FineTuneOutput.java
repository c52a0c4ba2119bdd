package bitnet.api;

import java.nio.file.Path;
import java.util.List;

/**
 * Where {@link BitnetModel#fineTune(int[], int[], FineTuneSettings, FineTuneOutput,
 * ProgressListener)} writes: the directory gets {@code metrics.jsonl} (one JSON object per
 * step and evaluation), {@code checkpoint/} while it runs (what {@code resume} continues from),
 * and at the end the fine-tuned model as a HuggingFace directory (FP32 safetensors, config and
 * tokenizer copied; under QAT the quantized weights the final evaluation saw). The directory is
 * built as {@code DIR.partial} and renamed when complete. Immutable.
 *
 * @param dir the output directory; it must not be, contain or lie inside any input
 * @param overwrite replace an existing output
 * @param resume continue the interrupted run kept in {@code DIR.partial}
 * @param inputs what the run reads (the model directory, the data files), for the check above
 */
public record FineTuneOutput(Path dir, boolean overwrite, boolean resume, List<Path> inputs) {
    /** Copies the list. */
    public FineTuneOutput {
        if (dir == null) {
            throw new IllegalArgumentException("an output directory is needed");
        }
        inputs = List.copyOf(inputs);
    }
}
