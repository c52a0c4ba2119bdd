# One table of prefill and batch-1 decode tokens/s: ours (the packed kernels: ppl_T.json and
# speed_T.json of a bench/llamacpp-check.sh work folder) beside llama.cpp on one or more GGUF files
# of the same model (check.mjs outputs), per thread count. Our "prefill" is the `ppl` command's
# tokens/s over the same windows.
# usage: speed_table.py OURS_DIR LLAMA.json [LLAMA2.json ...]
import json, os, sys

od, files = sys.argv[1], sys.argv[2:]
lls = [json.load(open(f)) for f in files]
names = [os.path.basename(l["model"]).removesuffix(".gguf") for l in lls]
threads = sorted({int(t) for l in lls for t in l["threads"]})
cols = ["bitnet (packed)"] + [f"llama.cpp {n}" for n in names]
rows = []
for kind, key in (("prefill", "prefill_tok_per_s"), ("batch-1 decode", "decode_tok_per_s")):
    for t in threads:
        p = os.path.join(od, ("ppl_%d.json" if kind == "prefill" else "speed_%d.json") % t)
        o = json.load(open(p)) if os.path.exists(p) else {}
        ours = o["tokens"] / o["seconds"] if kind == "prefill" and o.get("seconds") else o.get("generate_tokens_per_s")
        vals = [ours] + [l["threads"].get(str(t), {}).get(key) for l in lls]
        rows.append((f"{kind} tokens/s, {t} thread(s)", ["-" if v is None else f"{v:,.1f}" for v in vals]))
w = max(len(r[0]) for r in rows)
cw = max(14, *(len(c) for c in cols))
print(f"{'':{w}}  " + "  ".join(f"{c:>{cw}}" for c in cols))
for name, vals in rows:
    print(f"{name:{w}}  " + "  ".join(f"{v:>{cw}}" for v in vals))
