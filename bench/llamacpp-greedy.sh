#!/usr/bin/env bash
# Checks a GGUF export's vocabulary and decoding against llama.cpp itself (issue 12, "Done when" 3):
# llama.cpp's greedy continuation of BOS (N tokens, end-of-sequence ignored) against ours
# (`./bitnet generate --greedy --ignore-eos`), and llama.cpp's tokenization of a text file with the
# GGUF's vocabulary against ours (`./bitnet tokenize`, BOS of its post-processor dropped). llama.cpp is
# node-llama-cpp 3.22.1, installed outside the repository as bench/llamacpp-check.sh does.
# usage: bench/llamacpp-greedy.sh --gguf F.gguf --model DIR [--text FILE] [--n 100]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
GGUF= MODEL= TEXT="$ROOT/src/demo/heldout.txt" NGEN=100
while [ $# -gt 0 ]; do
  case "$1" in
    --gguf) GGUF="$2"; shift 2 ;; --model) MODEL="$2"; shift 2 ;; --text) TEXT="$2"; shift 2 ;; --n) NGEN="$2"; shift 2 ;;
    *) sed -n 2,7p "$0" >&2; exit 2 ;;
  esac
done
[ -f "$GGUF" ] && [ -d "$MODEL" ] || { echo "llamacpp-greedy: --gguf FILE and --model DIR are required" >&2; exit 2; }
. "$ROOT/bench/llamacpp/install.sh"
OUT="${BITNET_CHECK_OUT:-$(mktemp -d /tmp/llamacpp-greedy.XXXXXX)}"
mkdir -p "$OUT"
BOS=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['bos_token_id'])" "$MODEL/config.json")
GG="$(cd "$(dirname "$GGUF")" && pwd)/$(basename "$GGUF")"
node "$CACHE/greedy.mjs" "$GG" "[$BOS]" "$NGEN" > "$OUT/llama-greedy.json"
"$ROOT/bitnet" generate --model "$MODEL" --ids "$BOS" --max-new "$NGEN" --greedy --ignore-eos --json 2>/dev/null > "$OUT/our-greedy.json"
node "$CACHE/tokenize.mjs" "$GG" "$TEXT" > "$OUT/llama-tok.json"
"$ROOT/bitnet" tokenize --tokenizer "$MODEL" --file "$TEXT" 2>/dev/null > "$OUT/our-tok.json"
python3 - "$OUT" "$BOS" <<'PY'
import json, sys
o, bos = sys.argv[1], int(sys.argv[2])
lg, og = json.load(open(o + "/llama-greedy.json"))["ids"], json.load(open(o + "/our-greedy.json"))["ids"]
og = og[1:] if og[:1] == [bos] and len(og) > len(lg) else og  # ours lists the prompt first
same = next((i for i, (a, b) in enumerate(zip(lg, og)) if a != b), min(len(lg), len(og)))
print(f"greedy continuation of BOS: {same} of {len(lg)} tokens equal" + ("" if same == len(lg) == len(og) else f" (first difference at {same})"))
lt, ot = json.load(open(o + "/llama-tok.json"))["ids"], json.load(open(o + "/our-tok.json"))["ids"]
ot = ot[1:] if ot[:1] == [bos] and lt[:1] != [bos] else ot
print(f"tokenization: llama.cpp {len(lt)} ids, ours {len(ot)} ids, " + ("equal" if lt == ot else "DIFFERENT"))
print(json.dumps({"greedy_equal": same, "greedy_n": len(lg), "tok_equal": lt == ot, "tok_n": len(lt)}))
PY
