#!/usr/bin/env bash
# bench/ppl-vs-numpy.sh: issue 14's cold-start/throughput check, whole processes side by side.
# Makes a 15.7M-parameter Llama (hidden 384, 6 layers, 6 heads, 2 KV heads, intermediate 1024,
# vocab 8192; random BF16 weights; the demo's tokenizer) with bench/llama_numpy.py, then times with
# farm-bench (A B A B ..., min/median/max):
#   1. `./bitnet ppl` on 16,384 tokens (64 windows of 256) vs a numpy/OpenBLAS forward of the same
#      windows (bench/llama_numpy.py ppl; it is given the token ids, so it does no tokenizing);
#   2. `./bitnet ppl` on one window (256 tokens).
# Both perplexities are printed first: they must agree (same weights, same windows), which checks
# the peer as much as us. OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are unset for numpy only.
# Usage: bench/ppl-vs-numpy.sh [RUNS]   (WORK=dir keeps the model between runs)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUNS=${1:-5}
WORK=${WORK:-/tmp/bitnet-ppl-vs-numpy}
cd "$ROOT"
export BITNET_NO_BUILD=0
./bitnet --version >/dev/null 2>&1 || true   # builds on first use
export BITNET_NO_BUILD=1
if [ ! -f "$WORK/model/model.safetensors" ]; then
  python3 bench/llama_numpy.py make "$WORK/model" >&2
  cp src/demo/model/tokenizer.json "$WORK/model/"
fi
TEXT=src/demo/heldout.txt
head -c 1200 "$TEXT" > "$WORK/one-window.txt"
./bitnet tokenize --tokenizer "$WORK/model" --file "$TEXT" 2>/dev/null \
  | python3 -c "import json,sys; json.dump(json.load(sys.stdin)['ids'], open(sys.argv[1],'w'))" "$WORK/ids.json"
echo "CPU: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; load: $(cut -d' ' -f1-3 /proc/loadavg)"
ours=$(./bitnet ppl --model "$WORK/model" --text "$TEXT" 2>/dev/null | python3 -c "import json,sys; print(json.load(sys.stdin)['ppl'])")
peer=$(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python3 bench/llama_numpy.py ppl "$WORK/model" "$WORK/ids.json" \
  | python3 -c "import json,sys; print(json.load(sys.stdin)['ppl'])")
echo "perplexity, 64 windows of 256: ours $ours, numpy $peer"
echo "== ppl, 16,384 tokens: A = ./bitnet ppl, B = numpy forward"
farm-bench -n "$RUNS" --timeout 1800 --vs "env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python3 bench/llama_numpy.py ppl $WORK/model $WORK/ids.json" \
  -- ./bitnet ppl --model "$WORK/model" --text "$TEXT"
echo "== ppl, one window (256 tokens): ./bitnet ppl"
farm-bench -n "$RUNS" --timeout 600 -- ./bitnet ppl --model "$WORK/model" --text "$WORK/one-window.txt"
