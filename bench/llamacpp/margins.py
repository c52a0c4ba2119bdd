# Why llama.cpp's top-1 and ours differ: the top-1/top-2 logit margin of our logits at the positions
# where they disagree, against the size of llama.cpp's logit error (it rounds activations to int8
# inside quantized products). The error is measured, not assumed: |ours - llama.cpp| on the K logits
# llama.cpp kept per position (check.mjs --top K). Agreement is also given on the positions whose
# margin exceeds twice that error (there both sides can move by the error without a flip).
# usage: margins.py LLAMA.json OURS_LOGITS.safetensors IDS.json   (files of bench/llamacpp-check.sh --top K)
import json, sys
import numpy as np
from st import safetensor

ll = json.load(open(sys.argv[1]))
ours = safetensor(sys.argv[2], "logits")  # (windows, L, V)
ids = json.load(open(sys.argv[3]))
L = ll["L"]
top = ll.get("top")
if not top:
    sys.exit("margins.py: " + sys.argv[1] + " has no top logits (run check.mjs with --top K, K > 1)")
k = min(len(top), ours.shape[0])
V = ours.shape[2]
o = ours[:k].reshape(k * L, V).astype(np.float64)
theirs_am = np.array(ll["argmax"][:k]).reshape(-1)
inputs = np.array([ids[w * L + i] for w in range(k) for i in range(L)])
srt = np.sort(o, axis=1)
margin = srt[:, -1] - srt[:, -2]  # our top-1 minus top-2
spread = o.std(axis=1)  # per-position logit standard deviation
ours_am = o.argmax(axis=1)
err = []  # |ours - llama.cpp| on llama.cpp's top-K ids of every position
llama_gap = []  # llama.cpp's logit of its top-1 minus its logit of our top-1 (when kept)
for p, row in enumerate(x for w in top[:k] for x in w):
    d = {int(t): v for t, v in row}
    err.extend(abs(o[p, t] - v) for t, v in d.items())
    llama_gap.append(d[int(theirs_am[p])] - d[int(ours_am[p])] if int(ours_am[p]) in d else np.nan)
err = np.array(err)
e99 = float(np.percentile(err, 99))
agree = ours_am == theirs_am
dis = np.where(~agree)[0]
big = margin > 2 * e99
pct = lambda a, q: float(np.percentile(a, q)) if len(a) else float("nan")
print(f"positions {len(agree)}: top-1 agreement {agree.sum()}/{len(agree)} = {100 * agree.mean():.2f}%")
print(f"llama.cpp logit error |ours - llama.cpp| on its top-{len(top[0][0])} ids: median {np.median(err):.4f}, "
      f"p99 {e99:.4f}, max {err.max():.4f}")
print(f"our top-1/top-2 margin, all positions: median {np.median(margin):.4f} (p10 {pct(margin, 10):.4f}, "
      f"p90 {pct(margin, 90):.4f}); in logit standard deviations: median {np.median(margin / spread):.3f}")
print(f"  at the {len(dis)} disagreeing positions: median {pct(margin[dis], 50):.4f}, max {pct(margin[dis], 100):.4f}"
      f" (in standard deviations: max {pct(margin[dis] / spread[dis], 100):.3f})")
print(f"  positions with margin > 2 x p99 error ({2 * e99:.4f}): {big.sum()}, "
      f"agreement there {agree[big].sum()}/{big.sum()} = {100 * agree[big].mean() if big.any() else float('nan'):.2f}%")
targets = np.array([ids[w * L + i + 1] for w in range(k) for i in range(L)])
mx = o.max(axis=1)
nll = mx + np.log(np.exp(o - mx[:, None]).sum(axis=1)) - o[np.arange(len(targets)), targets]
if ll.get("windows") == k:  # the same windows: perplexity from our logits beside llama.cpp's
    print(f"mean NLL of these {k} windows: ours {nll.mean():.4f}, llama.cpp {ll['mean_nll']:.4f} "
          f"(perplexity {np.exp(nll.mean()):.6g} vs {ll['ppl']:.6g}, {100 * (np.exp(ll['mean_nll'] - nll.mean()) - 1):+.3f}%)")
bigram = ours_am == (inputs - 1) % V
print(f"our top-1 = input token - 1 (the peaked generator's bigram) at {100 * bigram.mean():.1f}% of positions")
print(json.dumps({"positions": int(len(agree)), "agree": int(agree.sum()), "err_median": float(np.median(err)),
                  "err_p99": e99, "err_max": float(err.max()), "margin_median": float(np.median(margin)),
                  "margin_sd_median": float(np.median(margin / spread)),
                  "disagree_margin_max": pct(margin[dis], 100), "disagree_margins": [round(float(m), 4) for m in sorted(margin[dis])],
                  "above_2err": int(big.sum()), "agree_above_2err": int(agree[big].sum()),
                  "bigram_fraction": float(bigram.mean()), "nll_ours": float(nll.mean()), "nll_llamacpp": ll.get("mean_nll")}))
