#!/usr/bin/env bash
# Kill-and-check soak test (not run in CI). Runs `./bitnet compress` and `./bitnet finetune` on the
# demo model again and again, kills each with SIGKILL at a random moment, and checks:
#  1. an output directory either does not exist or is complete (has .bitnet-complete and loads with
#     `./bitnet ppl`), whatever the moment of the kill;
#  2. a finetune killed and then continued with --resume ends with a model.safetensors bit-identical
#     to an uninterrupted run's.
# Usage: src/scripts/soak.sh [COMPRESS_KILLS=20] [FINETUNE_KILLS=5]
# Env: MODEL (default src/demo/model), DATA (text; default the demo heldout.txt),
#      WORK (scratch dir; default a mktemp dir, deleted at the end), FT_STEPS (default 12),
#      FT_DEVICE (default cpu: the Vector API kernels give the same bits in every JIT tier since
#      DetMath, so a resumed run is bit-identical there too; measured 3 of 3; scalar also works).
# It expects engine/target/bitnet.jar to be built (mvn -q package -DskipTests -pl io,kernels,engine -am)
# and never rebuilds (BITNET_NO_BUILD=1), so that a kill cannot land in a build.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BITNET="$ROOT/bitnet"
export BITNET_NO_BUILD=1
NC=${1:-20}
NF=${2:-5}
MODEL=${MODEL:-$ROOT/src/demo/model}
DATA=${DATA:-$ROOT/src/demo/heldout.txt}
FT_STEPS=${FT_STEPS:-12}
FT_DEVICE=${FT_DEVICE:-cpu}
WORK=${WORK:-$(mktemp -d /tmp/bitnet-soak.XXXXXX)}
mkdir -p "$WORK"
[ -f "$ROOT/engine/target/bitnet.jar" ] || { echo "soak: build engine/target/bitnet.jar first" >&2; exit 1; }

COMPRESS=(compress --model "$MODEL" --calibration-data "$DATA" --fine-tune-steps 5 --eval-windows 4 --threads 2)
FINETUNE=(finetune --model "$MODEL" --data "$DATA" --steps "$FT_STEPS" --batch-size 2 --seq-len 64 --checkpoint-every 3
          --eval-every 100 --eval-windows 1 --warmup 2 --device "$FT_DEVICE")
fail=0
log() { echo "soak: $*" >&2; }

# Runs "$@" in its own process group; after a random delay in [0, MAXMS) ms sends SIGKILL to the group.
# Prints "killed" or "finished:RC".
run_and_kill() {
  local maxms=$1; shift
  setsid "$BITNET" "$@" >"$WORK/last.out" 2>"$WORK/last.err" &
  local pid=$!
  local ms=$(( RANDOM * 32768 + RANDOM ))
  ms=$(( ms % maxms ))
  local t0=$(date +%s%N)
  while [ $(( ($(date +%s%N) - t0) / 1000000 )) -lt $ms ] && kill -0 $pid 2>/dev/null; do sleep 0.05; done
  if kill -0 $pid 2>/dev/null; then
    kill -9 -- -$pid 2>/dev/null
    wait $pid 2>/dev/null
    echo "killed@${ms}ms"
  else
    wait $pid; echo "finished:$?"
  fi
}

# An output directory must be absent or complete and loadable.
check_out() {
  local out=$1 what=$2
  if [ ! -e "$out" ]; then echo "absent"; return 0; fi
  if [ ! -f "$out/.bitnet-complete" ]; then log "FAIL $what: $out exists without .bitnet-complete"; fail=1; echo "INCOMPLETE"; return 1; fi
  local m="$out"; [ -d "$out/bitnet_dequantized_fp16" ] && m="$out/bitnet_dequantized_fp16"
  if ! "$BITNET" ppl --model "$m" --text "$DATA" --windows 2 >/dev/null 2>"$WORK/ppl.err"; then
    log "FAIL $what: $m does not load: $(tail -1 "$WORK/ppl.err")"; fail=1; echo "UNLOADABLE"; return 1
  fi
  echo "complete+loads"
}

# Reference timings (and the reference finetune).
t0=$(date +%s%N)
"$BITNET" "${COMPRESS[@]}" --output "$WORK/c-ref" >/dev/null 2>"$WORK/c-ref.err"; rc=$?
tc=$(( ($(date +%s%N) - t0) / 1000000 ))
log "uninterrupted compress: rc=$rc in ${tc} ms; $(check_out "$WORK/c-ref" ref)"
t0=$(date +%s%N)
"$BITNET" "${FINETUNE[@]}" --output "$WORK/f-ref" >/dev/null 2>"$WORK/f-ref.err"; rc=$?
tf=$(( ($(date +%s%N) - t0) / 1000000 ))
log "uninterrupted finetune: rc=$rc in ${tf} ms; $(check_out "$WORK/f-ref" ref)"
[ -f "$WORK/f-ref/model.safetensors" ] || { log "reference finetune failed: $(tail -3 "$WORK/f-ref.err")"; exit 1; }

killed=0
for i in $(seq 1 "$NC"); do
  out="$WORK/c$i"
  r=$(run_and_kill $((tc * 11 / 10)) "${COMPRESS[@]}" --output "$out")
  case $r in killed*) killed=$((killed + 1));; esac
  s=$(check_out "$out" "compress $i")
  log "compress $i: $r -> $s"
  rm -rf "$out" "$out.partial" "$out.lock"
done
log "compress: $NC runs, $killed killed mid-run"

fkilled=0
for i in $(seq 1 "$NF"); do
  out="$WORK/f$i"
  r=$(run_and_kill $((tf * 11 / 10)) "${FINETUNE[@]}" --output "$out")
  case $r in killed*) fkilled=$((fkilled + 1));; esac
  s=$(check_out "$out" "finetune $i")
  if [ ! -e "$out" ]; then
    extra=(); [ -d "$out.partial" ] && extra=(--resume)
    "$BITNET" "${FINETUNE[@]}" --output "$out" "${extra[@]}" >/dev/null 2>"$WORK/resume.err"; rc=$?
    s="$s; resumed(${extra[*]:-fresh}) rc=$rc"
  fi
  if cmp -s "$out/model.safetensors" "$WORK/f-ref/model.safetensors"; then
    s="$s; bit-identical"
  else
    log "FAIL finetune $i: model.safetensors differs from the uninterrupted run ($(tail -1 "$WORK/resume.err" 2>/dev/null))"; fail=1
    s="$s; DIFFERS"
  fi
  log "finetune $i: $r -> $s"
  rm -rf "$out" "$out.partial" "$out.lock"
done
log "finetune: $NF runs, $fkilled killed mid-run"
[ "${KEEP:-0}" = 1 ] || rm -rf "$WORK"
[ $fail = 0 ] && log "PASS" || log "FAILED"
exit $fail
