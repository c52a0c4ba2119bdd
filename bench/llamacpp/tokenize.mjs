// llama.cpp's tokenization of a UTF-8 file with a GGUF's vocabulary (no BOS added):
// node tokenize.mjs MODEL.gguf TEXT_FILE  ->  {"ids": [...]}
import fs from "node:fs";
import { getLlama, LlamaLogLevel } from "node-llama-cpp";
const [modelPath, textFile] = process.argv.slice(2);
const llama = await getLlama({ gpu: false, build: "never", skipDownload: true, logLevel: LlamaLogLevel.error });
const model = await llama.loadModel({ modelPath, gpuLayers: 0, vocabOnly: true });
console.log(JSON.stringify({ ids: Array.from(model.tokenize(fs.readFileSync(textFile, "utf8"), false)) }));
await model.dispose(); await llama.dispose();
