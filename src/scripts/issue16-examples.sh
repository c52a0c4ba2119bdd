#!/usr/bin/env bash
# Reruns the inputs of issue 16's "What was seen" against this tree's ./bitnet and prints a
# markdown table: input, command, exit code, first error line (or outcome), and whether any
# input was changed or an OUT.partial / OUT.lock left behind. Usage: src/scripts/issue16-examples.sh [WORKDIR]
# (BITNET_JAVA_OPTS=-Xmx1g keeps every JVM small on a shared machine; the -Xmx1g rows set it anyway)
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
W="${1:-$(mktemp -d /tmp/issue16.XXXXXX)}"
mkdir -p "$W"
B="$ROOT/bitnet"
DEMO="$ROOT/src/demo/model"
export BITNET_NO_BUILD="${BITNET_NO_BUILD:-0}"
"$B" --version >/dev/null 2>&1 # build once

# a model with a config value replaced: cfgmod NAME PYTHON-EXPR-ON-c (c is the config dict) [RAW]
cfgmod() {
  local d="$W/$1"; rm -rf "$d"; cp -r "$DEMO" "$d"; chmod -R u+w "$d"
  python3 - "$d/config.json" "$2" <<'PY'
import json, sys
p, expr = sys.argv[1], sys.argv[2]
c = json.load(open(p))
exec(expr)
json.dump(c, open(p, "w"), indent=1)
PY
  echo "$d"
}
# a model whose first F32/BF16 value of a tensor is NaN
nanmodel() {
  local d="$W/nan"; rm -rf "$d"; cp -r "$DEMO" "$d"; chmod -R u+w "$d"
  python3 - "$d/model.safetensors" <<'PY'
import json, struct, sys
p = sys.argv[1]; b = bytearray(open(p, "rb").read())
n = struct.unpack("<Q", b[:8])[0]; h = json.loads(b[8:8 + n])
t = h["model.norm.weight"]; o = 8 + n + t["data_offsets"][0]
if t["dtype"] == "BF16": b[o:o + 2] = struct.pack("<H", 0x7FC0)
else: b[o:o + 4] = struct.pack("<f", float("nan"))
open(p, "wb").write(b)
PY
  echo "$d"
}
snap() { find "$1" -type f -exec sha256sum {} + 2>/dev/null | sort | sha256sum | cut -c1-16; }

echo "| # | input | command | exit | message / outcome | inputs intact, nothing left |"
echo "|---|---|---|---|---|---|"
N=0
# row INPUT-DESCRIPTION WATCH-DIR-OR-FILE LEFTOVER-PREFIX -- ARGS...
row() {
  local what="$1" watch="$2" left="$3"; shift 4
  N=$((N + 1))
  local before="" after="" ok="yes"
  [ -n "$watch" ] && before="$(snap "$watch")"
  local t0=$(date +%s.%N)
  timeout 600 "$B" "$@" >"$W/out.$N" 2>"$W/err.$N"; local rc=$?
  local secs=$(echo "$(date +%s.%N) - $t0" | bc)
  [ -n "$watch" ] && after="$(snap "$watch")"
  [ "$before" != "$after" ] && ok="NO: input changed"
  if [ -n "$left" ] && { [ -e "$left.partial" ] || [ -e "$left.lock" ]; }; then ok="NO: .partial/.lock left"; fi
  local msg
  msg="$(grep -m1 -E '^bitnet: error|error:|Exception' "$W/err.$N" || true)"
  [ -z "$msg" ] && msg="$(grep -v '^WARNING' "$W/err.$N" | tail -1)"
  [ -z "$msg" ] && msg="$(head -c 200 "$W/out.$N")"
  msg="$(echo "$msg" | sed "s|$W|W|g; s|$ROOT|.|g" | tr '|' '/' | cut -c1-230)"
  local cmd="$*"; cmd="$(echo "$cmd" | sed "s|$W|W|g; s|$ROOT|.|g" | tr '|' '/')"
  printf '| %d | %s | `%s` | %d | %s (%.1f s) | %s |\n' "$N" "$what" "$cmd" "$rc" "$msg" "$secs" "$ok"
}

M="$W/model"; rm -rf "$M"; cp -r "$DEMO" "$M"; chmod -R u+w "$M"
row "output = the model" "$M" "$M" -- compress --model "$M" --output "$M" --overwrite --no-fine-tune
row "output contains the model" "$M" "$W" -- compress --model "$M" --output "$W" --overwrite --no-fine-tune
row "logits --out over the model's weights" "$M" "" -- logits --model "$M" --ids 1,2,3 --out "$M/model.safetensors" --overwrite
mknod "$W/fakefull" c 1 7 2>/dev/null || true
if [ -c "$W/fakefull" ]; then
  row "logits --out a device node (a copy of /dev/full)" "" "" -- logits --model "$M" --ids 1,2,3 --out "$W/fakefull" --overwrite
  [ -c "$W/fakefull" ] || echo "| | | device node replaced! | | | NO |"
fi
mkfifo "$W/fifo" 2>/dev/null || true
row "logits --out a FIFO" "" "" -- logits --model "$M" --ids 1,2,3 --out "$W/fifo" --overwrite
row "rope_theta 0" "" "" -- logits --model "$(cfgmod rt0 'c.setdefault("rope_parameters",{})["rope_theta"]=0; c["rope_theta"]=0')" --ids 1,2,3 --out "$W/o.st"
row "rope_theta negative" "" "" -- logits --model "$(cfgmod rtn 'c.setdefault("rope_parameters",{})["rope_theta"]=-5; c["rope_theta"]=-5')" --ids 1,2,3 --out "$W/o.st"
row "rope_theta a string" "" "" -- logits --model "$(cfgmod rts 'c.setdefault("rope_parameters",{})["rope_theta"]="abc"; c["rope_theta"]="abc"')" --ids 1,2,3 --out "$W/o.st"
row "rope factor 0 (linear)" "" "" -- logits --model "$(cfgmod rf0 'c["rope_parameters"]={"rope_type":"linear","factor":0,"rope_theta":10000.0}')" --ids 1,2,3 --out "$W/o.st"
row "rms_norm_eps -1" "" "" -- logits --model "$(cfgmod eps 'c["rms_norm_eps"]=-1')" --ids 1,2,3 --out "$W/o.st"
row "rms_norm_eps \"tiny\"" "" "" -- logits --model "$(cfgmod epss 'c["rms_norm_eps"]="tiny"')" --ids 1,2,3 --out "$W/o.st"
row "hidden_size 48.5" "" "" -- logits --model "$(cfgmod hs 'c["hidden_size"]=48.5')" --ids 1,2,3 --out "$W/o.st"
row "tie_word_embeddings \"yes\"" "" "" -- logits --model "$(cfgmod tie 'c["tie_word_embeddings"]="yes"')" --ids 1,2,3 --out "$W/o.st"
G="$(cfgmod garbage 'pass')"; echo '}} trailing' >> "$G/config.json"
row "config.json with trailing garbage" "" "" -- logits --model "$G" --ids 1,2,3 --out "$W/o.st"
row "train-steps --lr NaN" "" "" -- train-steps --model "$M" --ids 1,2,3 --steps 1 --out "$W/t.st" --lr NaN
row "train-steps --betas 1.5,2" "" "" -- train-steps --model "$M" --ids 1,2,3 --steps 1 --out "$W/t.st" --betas 1.5,2
row "train-steps --eps 0" "" "" -- train-steps --model "$M" --ids 1,2,3 --steps 1 --out "$W/t.st" --eps 0
NM="$(nanmodel)"
printf 'Once upon a time there was a little girl. %.0s' $(seq 1 400) > "$W/text.txt"
row "ppl on weights holding a NaN" "$NM" "" -- ppl --model "$NM" --text "$W/text.txt" --windows 1 --seq-len 64
row "generate on weights holding a NaN" "$NM" "" -- generate --model "$NM" --prompt "Once" --max-new 3
row "logits on weights holding a NaN" "$NM" "" -- logits --model "$NM" --ids 1,2,3 --out "$W/o.st"
row "compress on weights holding a NaN" "$NM" "$W/cn" -- compress --model "$NM" --output "$W/cn" --no-fine-tune
row "compress --max-accuracy-drop NaN" "$M" "$W/c1" -- compress --model "$M" --output "$W/c1" --max-accuracy-drop NaN --no-fine-tune
row "compress --target-ratio NaN" "$M" "$W/c2" -- compress --model "$M" --output "$W/c2" --target-ratio NaN --no-fine-tune
row "compress --target-ratio -3" "$M" "$W/c3" -- compress --model "$M" --output "$W/c3" --target-ratio -3 --no-fine-tune
python3 -c "
import sys
w = open(sys.argv[1], 'w'); s = ('Once upon a time there was a little girl who liked to play. ' * 20)
n = 0
while n < 50 * 2**20: w.write(s); n += len(s)
" "$W/huge.txt"
row "tokenize a 50 MB one-line file (heap: ${BITNET_JAVA_OPTS:-launcher default})" "" "" -- tokenize --tokenizer "$M" --file "$W/huge.txt" --json
BITNET_JAVA_OPTS=-Xmx1g row "tokenize a 50 MB one-line file, -Xmx1g" "" "" -- tokenize --tokenizer "$M" --file "$W/huge.txt" --json
BITNET_JAVA_OPTS=-Xmx1g row "ppl on a 50 MB one-line file, -Xmx1g" "" "" -- ppl --model "$M" --text "$W/huge.txt" --json
row "speed --steps -1" "" "" -- speed --model "$M" --steps -1
echo '{"fine_tune_lr": -1}' > "$W/bad-lr.json"
row "compress config key fine_tune_lr -1" "$M" "$W/c4" -- compress --model "$M" --output "$W/c4" --config "$W/bad-lr.json"
echo '{"distill": "bogus", "eval_windows": 0}' > "$W/bad-late.json"
row "compress config errors (distill, eval_windows)" "$M" "$W/c5" -- compress --model "$M" --output "$W/c5" --config "$W/bad-late.json"
echo '{"fine_tune_steps": 2.5}' > "$W/bad-type.json"
row "compress config fine_tune_steps 2.5" "$M" "$W/c6" -- compress --model "$M" --output "$W/c6" --config "$W/bad-type.json"
ln -sfn "$W/nowhere/dir" "$W/dangling"
row "--output at a dangling symlink" "$M" "$W/dangling" -- compress --model "$M" --output "$W/dangling" --no-fine-tune
# a killed run: OUT.partial and OUT.lock of a dead process
mkdir -p "$W/c7.partial"; echo 999999 > "$W/c7.lock"
row "stale OUT.partial + OUT.lock of a dead pid" "$M" "$W/c7" -- compress --model "$M" --output "$W/c7" --no-fine-tune --max-accuracy-drop 100 --target-ratio 1
echo 1 > "$W/c8.lock"
row "OUT.lock holding an unrelated live pid (1)" "$M" "$W/c8" -- compress --model "$M" --output "$W/c8" --no-fine-tune --max-accuracy-drop 100 --target-ratio 1
row "detokenize an out-of-vocabulary id" "" "" -- detokenize --tokenizer "$M" --ids 1,99999
printf '"Hello world"\n\n"Once upon"\n' > "$W/in.jsonl"
row "tokenize --jsonl with a blank line" "" "" -- tokenize --tokenizer "$M" --jsonl "$W/in.jsonl"
echo "(tokenize --jsonl output: $(tr '\n' ' ' < "$W/out.$N"))"
row "--json error (inspect of a missing dir)" "" "" -- inspect --model "$W/missing" --json
echo "(stdout: $(head -c 300 "$W/out.$N"))"
row "--json error (logits, bad ids)" "" "" -- logits --model "$M" --ids 1,x --out "$W/o.st" --json
echo "(stdout: $(head -c 300 "$W/out.$N"))"
echo
echo "work dir: $W"
