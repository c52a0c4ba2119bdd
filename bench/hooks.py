#!/usr/bin/env python3
"""bench/compare's default end-to-end hooks: one line each, from the files bench/compare wrote in
$OUT for thread count $T (TernaryBench's ternary.txt, `./bitnet speed --threads $T` as speed$T.json
with the load average in speedload$T.txt). Not a benchmark itself: it only formats."""
import json, os, re, sys

out, t, what = os.environ["OUT"], os.environ["T"], sys.argv[1]
if what == "ternary":
    txt = open(os.path.join(out, "ternary.txt")).read()
    gb = {k: float(v) for k, v in re.findall(r"^(\w+)\s+[\d.]+ us\s+([\d.]+) GB/s", txt, re.M)}
    suf = "Single" if t == "1" else "Parallel"
    tern, a8, fp = gb["ternaryMatvec" + suf], gb["ternaryA8Matvec" + suf], gb["fp32Matvec" + suf]
    cp = gb["copyPackedSize" + ("" if t == "1" else "Parallel")]
    m = re.search(r"GB/s=([\d.]+)", open(os.path.join(out, f"stream{t}.txt")).read())
    st = float(m.group(1)) if m else float("nan")
    # two yardsticks: a copy of the same 4 MiB (packed bytes per s) and the 256 MiB STREAM copy
    # (read + written bytes per s, as STREAM counts)
    print(f"FP32 act {tern:.1f} GB/s packed = {100 * tern / cp:.0f}% of 4 MiB copy {cp:.1f}, {100 * tern / st:.0f}% of STREAM {st:.1f}; "
          f"A8 {a8:.1f} = {100 * a8 / cp:.0f}% / {100 * a8 / st:.0f}%; fp32 matvec {fp:.1f} ({tern / fp:.1f}x, A8 {a8 / fp:.1f}x)")
else:
    d = json.load(open(os.path.join(out, f"speed{t}.json")))
    load = open(os.path.join(out, f"speedload{t}.txt")).read().strip()
    if not d:
        print("failed (./bitnet speed)")
    elif what == "train":
        # against our GEMM alone: the mean of its median GFLOP/s over the demo shapes, same threads
        gemm = []
        for line in open(os.path.join(out, "gemm.txt")):
            s, op, th, ob, om, bb, bm = line.split()
            n, c, oc = map(int, s.split("x"))
            if th == t and s != "2048x2048x2048":
                gemm.append(2.0 * n * c * oc / (float(om) * 1e-3) / 1e9)
        g = sum(gemm) / len(gemm) if gemm else float("nan")
        med = d.get("train_tokens_per_s_median")
        med = f", median step {med:.0f}" if med else ""
        print(f"{d['train_tokens_per_s']:.0f} tokens/s{med} ({d['train_batch']}, {d['train_step_s']:.2f} s/step), "
              f"{d['train_gflops']:.0f} GFLOP/s = {100 * d['train_gflops'] / g:.0f}% of our GEMM on the demo shapes "
              f"({g:.0f}); {load}")
    else:
        print(f"{d['generate_tokens_per_s']:.0f} tokens/s batch 1 ({d['generate_weights']} weights; "
              f"FP32 train-mode weights {d['generate_fp32_tokens_per_s']:.0f})")
