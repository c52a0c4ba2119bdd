#!/usr/bin/env bash
# Checks a GGUF export against llama.cpp itself: installs node-llama-cpp 3.22.1 with its prebuilt CPU
# libraries (release v0.5.0) into a cache folder OUTSIDE the repository, then for a GGUF and the
# model directory it came from prints one table: our perplexity and llama.cpp's on the same windows
# (the `ppl` rule of cli.md, our tokenization of the text), argmax agreement on the first held-out
# windows, and prefill and batch-1 decode tokens/s of both per thread count.
#
# usage: bench/llamacpp-check.sh --gguf F.gguf --model DIR [--text heldout.txt] [--seq-len 256]
#          [--windows 64] [--argmax-windows 8] [--threads 1,2] [--gen 128] [--prefill-windows 4] [--top K]
#        --top K (K > 1): also keeps llama.cpp's K largest logits per argmax position and prints the
#        margin analysis of bench/llamacpp/margins.py (why top-1 differs: near-ties or not)
# env:   BITNET_LLAMACPP_CACHE (default ~/.cache/bitnet-llamacpp), BITNET_CHECK_OUT (work folder)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
GGUF= MODEL= TEXT="$ROOT/src/demo/heldout.txt" L=256 N=64 K=8 THREADS=1,2 GEN=128 PW=4 TOP=1
while [ $# -gt 0 ]; do
  case "$1" in
    --gguf) GGUF="$2"; shift 2 ;; --model) MODEL="$2"; shift 2 ;; --text) TEXT="$2"; shift 2 ;;
    --seq-len) L="$2"; shift 2 ;; --windows) N="$2"; shift 2 ;; --argmax-windows) K="$2"; shift 2 ;;
    --threads) THREADS="$2"; shift 2 ;; --gen) GEN="$2"; shift 2 ;; --prefill-windows) PW="$2"; shift 2 ;;
    --top) TOP="$2"; shift 2 ;;
    -h|--help) sed -n 2,13p "$0"; exit 0 ;;
    *) echo "llamacpp-check: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ -n "$GGUF" ] && [ -n "$MODEL" ] || { echo "llamacpp-check: --gguf and --model are required" >&2; exit 2; }
[ -f "$GGUF" ] || { echo "llamacpp-check: $GGUF: not found" >&2; exit 3; }
[ -d "$MODEL" ] || { echo "llamacpp-check: $MODEL: not a directory" >&2; exit 3; }
. "$ROOT/bench/llamacpp/install.sh"   # CACHE: node-llama-cpp and the .mjs scripts

OUT="${BITNET_CHECK_OUT:-$(mktemp -d /tmp/llamacpp-check.XXXXXX)}"
mkdir -p "$OUT"
HF="$MODEL"; [ -f "$MODEL/bitnet_quantized_model.safetensors" ] && HF="$MODEL/bitnet_dequantized_fp16"
B="$ROOT/bitnet"
"$B" tokenize --tokenizer "$HF" --file "$TEXT" 2>/dev/null | python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["ids"]))' > "$OUT/ids.json"
echo "llamacpp-check: llama.cpp on $GGUF (threads $THREADS)" >&2
node "$CACHE/check.mjs" "$(cd "$(dirname "$GGUF")" && pwd)/$(basename "$GGUF")" "$OUT/ids.json" --L "$L" --n "$N" \
  --argmax "$K" --threads "$THREADS" --gen "$GEN" --prefill-windows "$PW" --top "$TOP" > "$OUT/llamacpp.json"
echo "llamacpp-check: ours on $MODEL" >&2
ROWS=$(python3 -c "import json,sys; ids=json.load(open('$OUT/ids.json')); L=$L
print(';'.join(','.join(map(str, ids[w*L:(w+1)*L])) for w in range($K) if len(ids) >= (w+1)*L+1))")
"$B" logits --model "$MODEL" --ids "$ROWS" --out "$OUT/logits.safetensors" --overwrite >/dev/null 2>&1
for t in ${THREADS//,/ }; do
  "$B" ppl --model "$MODEL" --text "$TEXT" --seq-len "$L" --windows "$N" --threads "$t" 2>/dev/null > "$OUT/ppl_$t.json"
  "$B" speed --model "$MODEL" --generate-only --gen-tokens "$GEN" --threads "$t" 2>/dev/null > "$OUT/speed_$t.json"
done
echo "CPU: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores" 
python3 "$ROOT/bench/llamacpp/table.py" "$OUT/llamacpp.json" "$OUT"
[ "$TOP" -le 1 ] || python3 "$ROOT/bench/llamacpp/margins.py" "$OUT/llamacpp.json" "$OUT/logits.safetensors" "$OUT/ids.json"
