// llama.cpp's logits of every position of each row of token ids (each row its own sequence), for
// bench/llamacpp-logits.sh. usage: node logits.mjs MODEL.gguf ROWS.json OUT.json [--threads 1]
// ROWS.json: [[id, ...], ...]; OUT.json gets {"logits": [row][position][vocab]}. F32 KV cache, no flash attention.
import fs from "node:fs";
import { getLlama, LlamaLogLevel } from "node-llama-cpp";

const args = process.argv.slice(2);
const [modelPath, rowsFile, outFile] = args;
const ti = args.indexOf("--threads"), threads = ti >= 0 ? Number(args[ti + 1]) : 1;
const rows = JSON.parse(fs.readFileSync(rowsFile, "utf8"));
const llama = await getLlama({ gpu: false, build: "never", skipDownload: true, logLevel: LlamaLogLevel.error });
const model = await llama.loadModel({ modelPath, gpuLayers: 0 });
const nVocab = Number(model.fileInfo.tensorInfo.find((t) => t.name === "token_embd.weight").dimensions[1]);
const T = Math.max(...rows.map((r) => r.length));
const ctx = await model.createContext({ contextSize: T + 1, batchSize: T, threads, flashAttention: false,
                                        experimentalKvCacheKeyType: "F32", experimentalKvCacheValueType: "F32" });
const seq = ctx.getSequence();
const out = [];
for (const ids of rows) {
  const res = await seq.controlledEvaluate(ids.map((t) => [t, { generateNext: { logits: true } }]));
  out.push(res.map((r) => { const row = new Array(nVocab).fill(0); for (const [t, v] of r.next.logits) row[t] = v; return row; }));
  await seq.clearHistory();
}
fs.writeFileSync(outFile, JSON.stringify({ model: modelPath, llamaCppRelease: llama.llamaCppRelease, logits: out }));
await ctx.dispose(); await model.dispose(); await llama.dispose();
