// llama.cpp's greedy continuation of a prompt of token ids, for bench/llamacpp-greedy.sh.
// usage: node greedy.mjs MODEL.gguf '[ids]' N [--threads 1]  ->  {"ids": [N new ids], "tok_per_s": ...}
// F32 KV cache, flash attention off; temperature 0 is argmax decoding.
import { getLlama, LlamaLogLevel } from "node-llama-cpp";
const [modelPath, promptJson, nArg] = process.argv.slice(2);
const ti = process.argv.indexOf("--threads"), threads = ti > 0 ? Number(process.argv[ti + 1]) : 1;
const llama = await getLlama({ gpu: false, build: "never", skipDownload: true, logLevel: LlamaLogLevel.error });
const model = await llama.loadModel({ modelPath, gpuLayers: 0 });
const n = Number(nArg);
const ctx = await model.createContext({ contextSize: n + 64, threads, flashAttention: false,
                                        experimentalKvCacheKeyType: "F32", experimentalKvCacheValueType: "F32" });
const seq = ctx.getSequence(), ids = [], t0 = performance.now();
for await (const tok of seq.evaluate(JSON.parse(promptJson), { temperature: 0 })) { ids.push(tok); if (ids.length >= n) break; }
console.log(JSON.stringify({ ids, tok_per_s: ids.length / ((performance.now() - t0) / 1000) }));
await ctx.dispose(); await model.dispose(); await llama.dispose();
