// llama.cpp's side of bench/llamacpp-check.sh (node-llama-cpp 3.22.1, prebuilt CPU libraries).
// usage: node check.mjs MODEL.gguf IDS.json --L 256 --n 64 --argmax 8 --threads 1,2 --gen 128 [--top K]
// Prints one JSON object: perplexity by the `ppl` rule of cli.md (windows ids[i*L:(i+1)*L+1]), the
// argmax of every position of the first --argmax windows, and per thread count the prefill rate
// (windows of L tokens in one batch) and the batch-1 greedy decode rate. F32 KV cache, no flash attention.
// --top K: also the K largest logits [[id, logit], ...] of every position of the argmax windows (margins.py).
import fs from "node:fs";
import { getLlama, LlamaLogLevel } from "node-llama-cpp";

const args = process.argv.slice(2);
const opt = (k, d) => { const i = args.indexOf(k); return i >= 0 ? args[i + 1] : d; };
const [modelPath, idsFile] = args;
const ids = JSON.parse(fs.readFileSync(idsFile, "utf8"));
const L = Number(opt("--L", "256")), n = Number(opt("--n", "64")), nArgmax = Number(opt("--argmax", "8"));
const threadList = opt("--threads", "1,2").split(",").map(Number), nGen = Number(opt("--gen", "128"));
const prefillWindows = Number(opt("--prefill-windows", "4")), nTop = Number(opt("--top", "1"));

const llama = await getLlama({ gpu: false, build: "never", skipDownload: true, logLevel: LlamaLogLevel.error });
const model = await llama.loadModel({ modelPath, gpuLayers: 0 });
const ctxOpts = (size, threads) => ({ contextSize: size, batchSize: Math.min(size, L), threads, flashAttention: false,
                                      experimentalKvCacheKeyType: "F32", experimentalKvCacheValueType: "F32" });

// windows w0..w1-1: returns {nll, count, argmax: [[...] per window < nArgmax], seconds}
async function windows(seq, w0, w1, wantNll) {
  let nll = 0, cnt = 0; const argmax = [], top = [];
  const t0 = performance.now();
  for (let w = w0; w < w1; w++) {
    const win = ids.slice(w * L, (w + 1) * L + 1);
    if (win.length !== L + 1) break;
    const items = win.slice(0, L).map((t, i) => [t, { generateNext: wantNll ? {
      logits: { filter: { tokens: [win[i + 1]], includeTop: nTop, includeSelected: true } }, totalLogitWeight: true } : {} }]);
    const res = await seq.controlledEvaluate(items);
    if (wantNll) {
      const am = [], tp = [];
      res.forEach((r, i) => {
        const lg = r.next.logits; // Map sorted by logit, max first
        const first = lg.keys().next().value;
        am.push(first);
        if (nTop > 1) tp.push([...lg.entries()].sort((a, b) => b[1] - a[1]).slice(0, nTop));
        nll -= lg.get(win[i + 1]) - lg.get(first) - Math.log(r.next.totalLogitWeight);
        cnt++;
      });
      if (w < nArgmax) { argmax.push(am); if (nTop > 1) top.push(tp); }
    } else {
      cnt += L;
    }
    await seq.clearHistory();
  }
  return { nll, cnt, argmax, top, seconds: (performance.now() - t0) / 1000 };
}

const out = { model: modelPath, llamaCppRelease: llama.llamaCppRelease, L, threads: {} };
for (const [k, threads] of threadList.entries()) {
  const ctx = await model.createContext(ctxOpts(L + 1, threads));
  const seq = ctx.getSequence();
  const row = {};
  if (k === 0) {
    const r = await windows(seq, 0, n, true);
    out.windows = r.cnt / L; out.tokens = r.cnt; out.mean_nll = r.nll / r.cnt; out.ppl = Math.exp(r.nll / r.cnt);
    out.argmax = r.argmax;
    if (nTop > 1) out.top = r.top;
  }
  await windows(seq, 0, 1, false); // warm-up
  const p = await windows(seq, 0, prefillWindows, false);
  row.prefill_tok_per_s = p.cnt / p.seconds;
  await ctx.dispose();
  const gctx = await model.createContext({ ...ctxOpts(nGen + 8, threads), batchSize: 8 });
  const gseq = gctx.getSequence();
  let best = 0;
  for (let rep = 0; rep < 2; rep++) {
    const gen = []; let tFirst = null; let tEnd = 0;
    for await (const tok of gseq.evaluate([ids[0]], { temperature: 0 })) {
      if (tFirst === null) tFirst = performance.now();
      gen.push(tok);
      tEnd = performance.now();
      // a time cap: on a shared machine llama.cpp's spinning threads can fall to ~1 token/s
      if (gen.length >= nGen || tEnd - tFirst > 15000) break;
    }
    if (gen.length > 1) best = Math.max(best, (gen.length - 1) / ((tEnd - tFirst) / 1000));
    await gseq.clearHistory();
  }
  row.decode_tok_per_s = best;
  await gctx.dispose();
  out.threads[threads] = row;
}
console.log(JSON.stringify(out));
await model.dispose(); await llama.dispose();
