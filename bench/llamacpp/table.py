# Joins llama.cpp's and our figures into the table bench/llamacpp-check.sh prints.
# usage: table.py LLAMA.json OURS_DIR   (OURS_DIR: ppl_T.json, speed_T.json, logits.safetensors from the script)
import json, os, sys
import numpy as np
from st import safetensor

lj, od = sys.argv[1], sys.argv[2]
ll = json.load(open(lj))
threads = sorted(int(t) for t in ll["threads"])

ours = {t: {} for t in threads}
for t in threads:
    for kind in ("ppl", "speed"):
        p = os.path.join(od, f"{kind}_{t}.json")
        if os.path.exists(p):
            ours[t][kind] = json.load(open(p))
first = ours[threads[0]].get("ppl", {})
agree = total = 0
lp = os.path.join(od, "logits.safetensors")
if os.path.exists(lp) and ll.get("argmax"):
    ours_am = safetensor(lp, "logits").argmax(axis=-1)  # (windows, L)
    theirs = np.array(ll["argmax"])
    k = min(len(ours_am), len(theirs))
    agree = int((ours_am[:k] == theirs[:k]).sum())
    total = int(theirs[:k].size)

def f(x, fmt="{:.4f}"):
    return "-" if x is None else fmt.format(x)

rows = []
ppl_o, ppl_l = first.get("ppl"), ll.get("ppl")
rows.append(("perplexity (%d windows of %d)" % (ll.get("windows", 0), ll["L"]), f(ppl_o), f(ppl_l),
             f(None if ppl_o is None else 100 * (ppl_l / ppl_o - 1), "{:+.3f}%")))
rows.append(("argmax agreement on held-out positions", "", "", f"{agree}/{total} = {100 * agree / max(total, 1):.2f}%"))
for t in threads:
    p = ours[t].get("ppl", {})
    pre_o = p["tokens"] / p["seconds"] if p.get("seconds") else None
    rows.append((f"prefill tokens/s, {t} thread(s)", f(pre_o, "{:,.0f}"), f(ll["threads"][str(t)]["prefill_tok_per_s"], "{:,.0f}"), ""))
for t in threads:
    s = ours[t].get("speed", {})
    rows.append((f"batch-1 decode tokens/s, {t} thread(s)", f(s.get("generate_tokens_per_s"), "{:,.1f}"),
                 f(ll["threads"][str(t)]["decode_tok_per_s"], "{:,.1f}"), ""))
w = max(len(r[0]) for r in rows)
print(f"{'':{w}}  {'bitnet (ours)':>14}  {'llama.cpp':>12}  {'difference':>22}")
for r in rows:
    print(f"{r[0]:{w}}  {r[1]:>14}  {r[2]:>12}  {r[3]:>22}")
print(json.dumps({"ppl_ours": ppl_o, "ppl_llamacpp": ppl_l, "argmax_agree": agree, "argmax_total": total}))
