#!/usr/bin/env bash
# Checks F32 GGUF exports of reference fixtures against llama.cpp itself (issue 12, "Done when" 5):
# for each fixture directory (an HF model with refs.safetensors holding input_ids and the reference
# logits), exports it with `./bitnet export --type f32 --placeholder-vocab`, runs every row of
# input_ids through llama.cpp (node-llama-cpp 3.22.1, prebuilt, installed outside the repository as
# bench/llamacpp-check.sh does; F32 KV cache, flash attention off) and prints the largest
# |llama.cpp - reference| logit per fixture. For gemma3 also bench/llamacpp/gemma3_gelu.py: the
# same comparison against a reference computed with ggml's fp16-tabulated GELU.
# usage: bench/llamacpp-logits.sh FIXTURE_DIR...      env: BITNET_LLAMACPP_CACHE, BITNET_CHECK_OUT
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
[ $# -gt 0 ] || { sed -n 2,9p "$0"; exit 2; }
. "$ROOT/bench/llamacpp/install.sh"
OUT="${BITNET_CHECK_OUT:-$(mktemp -d /tmp/llamacpp-logits.XXXXXX)}"
mkdir -p "$OUT"
echo "CPU: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores"
for D in "$@"; do
  [ -f "$D/refs.safetensors" ] || { echo "llamacpp-logits: $D/refs.safetensors: not found" >&2; exit 3; }
  N="$(basename "$D")"
  "$ROOT/bitnet" export --model "$D" --format gguf --type f32 --placeholder-vocab --output "$OUT/$N.gguf" --overwrite 2>/dev/null
  (cd "$ROOT/bench/llamacpp" && python3 -c "import json,sys; from st import safetensor
print(json.dumps(safetensor(sys.argv[1], 'input_ids').tolist()))" "$D/refs.safetensors") > "$OUT/$N.ids.json"
  node "$CACHE/logits.mjs" "$OUT/$N.gguf" "$OUT/$N.ids.json" "$OUT/$N.llama.json"
  (cd "$ROOT/bench/llamacpp" && python3 -c "import json,sys; import numpy as np; from st import safetensor
ref = safetensor(sys.argv[1], 'logits'); ll = np.array(json.load(open(sys.argv[2]))['logits'])
print(f'{sys.argv[3]:28} max |llama.cpp - reference| = {np.abs(ll - ref).max():.2e}')" "$D/refs.safetensors" "$OUT/$N.llama.json" "$N")
  if [ "$(python3 -c "import json,sys; print(json.load(open(sys.argv[1])).get('model_type',''))" "$D/config.json")" = gemma3_text ]; then
    (cd "$ROOT/bench/llamacpp" && python3 gemma3_gelu.py "$D" "$OUT/$N.llama.json")
  fi
done
