#!/usr/bin/env bash
# The GPU check: one prepared script, in two halves.
#
#   bench/gpu-check.sh pack   on a build machine (JDK 25, Maven, network for one JUnit download):
#                             builds the jars and writes bench/target/gpu/ (about 40 MB):
#                               bitnet.jar      the engine's shaded jar (io, kernels, engine, Jackson,
#                                               JCuda; JCuda natives slimmed to the driver binding)
#                               kernels-tests.jar   kernels' test classes (CudaKernelsTest, ...)
#                               junit-platform-console-standalone.jar
#                               rt.tgz          a jlink'd JDK 25 runtime (java.base, java.logging,
#                                               java.management, java.xml, jdk.incubator.vector, jdk.unsupported)
#   bench/gpu-check.sh        on the GPU machine (no Java, no network, CUDA 13 driver): unpacks the
#                             runtime to ./rt, runs the CUDA parity tests, the GEMM/kernel benchmark
#                             (FP32, then TF32 allowed), the engine on the demo model with
#                             --device cuda, and PyTorch's training step if torch is installed;
#                             prints one summary table at the end.
# Carry to the GPU machine: bench/target/gpu (the tracked sources, src/demo and src/data, travel
# anyway). A ./rt folder or ./rt.tgz at the repository root is used instead when present.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
G="$ROOT/bench/target/gpu"
cd "$ROOT"

if [ "${1:-}" = "pack" ]; then
  set -e
  if [ -z "${JAVA_HOME:-}" ] || ! "$JAVA_HOME/bin/java" -version 2>&1 | grep -q '"2[5-9]'; then
    for d in /usr/lib/jvm/temurin-25* /usr/lib/jvm/*25*; do [ -x "$d/bin/jlink" ] && export JAVA_HOME="$d" && break; done
  fi
  mvn -q -B package -DskipTests
  rm -rf "$G" && mkdir -p "$G"
  mvn -q -B dependency:copy -Dartifact=org.junit.platform:junit-platform-console-standalone:1.14.1 \
      -DoutputDirectory="$G" -Dmdep.stripVersion=true
  cp engine/target/bitnet.jar "$G/bitnet.jar"
  # only libJCudaDriver is loaded; the PTX compiler, NVRTC and runtime bindings are dead weight
  zip -q -d "$G/bitnet.jar" 'lib/libJNvPTXCompiler*' 'lib/libJNvrtc*' 'lib/libJCudaRuntime*' 'lib/*windows*' 'lib/*apple*' || true
  (cd kernels/target/test-classes && "$JAVA_HOME/bin/jar" cf "$G/kernels-tests.jar" .)
  "$JAVA_HOME/bin/jlink" --add-modules java.base,java.logging,java.management,java.xml,jdk.incubator.vector,jdk.unsupported \
      --strip-debug --no-header-files --no-man-pages --compress zip-9 --output "$G/rt" 2>/dev/null
  (cd "$G" && tar czf rt.tgz rt && rm -rf rt)
  du -sh "$G"/*
  exit 0
fi

# ---- on the GPU machine ------------------------------------------------------------------------
RT=""
for cand in "$ROOT/rt" "$G/rt"; do [ -x "$cand/bin/java" ] && RT="$cand" && break; done
if [ -z "$RT" ]; then
  for t in "$ROOT/rt.tgz" "$G/rt.tgz"; do
    if [ -f "$t" ]; then tar xzf "$t" -C "$(dirname "$t")" && RT="$(dirname "$t")/rt"; break; fi
  done
fi
[ -x "$RT/bin/java" ] || { echo "gpu-check: no Java runtime (./rt, ./rt.tgz or $G/rt.tgz): run 'bench/gpu-check.sh pack' first" >&2; exit 1; }
JAVA=("$RT/bin/java" --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -XX:+UseParallelGC -Xmx16g)
CP="$G/bitnet.jar:$G/kernels-tests.jar"
OUT="${OUT:-/tmp/gpu-check}"
mkdir -p "$OUT"
SUMMARY="$OUT/summary.txt"
: > "$SUMMARY"
note() { printf '%-44s %s\n' "$1" "$2" | tee -a "$SUMMARY"; }

echo "== nvidia-smi"; nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1 | head -3
echo "== CUDA parity tests (kernels vs the scalar reference)"
"${JAVA[@]}" -jar "$G/junit-platform-console-standalone.jar" execute -cp "$CP" \
    --select-class bitnet.kernels.cuda.CudaKernelsTest --details=tree --disable-ansi-colors --disable-banner --reports-dir "$OUT/junit" 2>&1 | tee "$OUT/tests.txt" | tail -60
note "CUDA tests" "$(grep -E 'tests (successful|failed|aborted)' "$OUT/tests.txt" | tr -s ' []' ' ' | paste -sd, -)"

echo "== GEMM / kernel benchmark (FP32 math)"
"${JAVA[@]}" -cp "$CP" bitnet.kernels.cuda.CudaBench 1 2>&1 | tee "$OUT/bench-fp32.txt"
echo "== GEMM benchmark with TF32 allowed (-Dbitnet.cuda.tf32=true)"
"${JAVA[@]}" -Dbitnet.cuda.tf32=true -cp "$CP" bitnet.kernels.cuda.CudaBench 0.5 2>&1 | tee "$OUT/bench-tf32.txt"
note "SGEMM 4096^3 FP32" "$(grep -E '^matmul \(square\) +4096x' "$OUT/bench-fp32.txt" | awk '{print $(NF-1), $NF}')"
note "SGEMM 4096^3 TF32" "$(grep -E '^matmul \(square\) +4096x' "$OUT/bench-tf32.txt" | awk '{print $(NF-1), $NF}')"

# ---- the engine on the demo model (subcommands from the CLI contract) ---------------------------
B=16; T=256; STEPS=${STEPS:-20}
IDS="$(awk -v B=$B -v T=$T 'BEGIN{srand(7); for(b=0;b<B;b++){r=""; for(t=0;t<=T;t++){r=r (t?",":"") int(rand()*8000)+2} printf "%s%s", (b?";":""), r}}')"
BITNET=("${JAVA[@]}" -jar "$G/bitnet.jar")
for dev in cuda cpu; do
  echo "== train-steps demo model, $STEPS steps of ${B}x${T} tokens, --device $dev"
  s=$(date +%s.%N)
  if "${BITNET[@]}" train-steps --model src/demo/model --ids "$IDS" --steps "$STEPS" --device "$dev" \
       --out "$OUT/train-$dev.safetensors" > "$OUT/train-$dev.log" 2>&1; then
    e=$(date +%s.%N)
    note "engine train-steps --device $dev" "$(awk -v s=$s -v e=$e -v n=$((STEPS*B*T)) 'BEGIN{printf "%.0f tokens/s (%.1f s incl. start-up)", n/(e-s), e-s}')"
  else
    note "engine train-steps --device $dev" "FAILED (see $OUT/train-$dev.log)"; tail -5 "$OUT/train-$dev.log"
  fi
  [ "$dev" = cpu ] && [ "${CPU_TOO:-0}" != 1 ] && break
done
echo "== compress demo model --device cuda"
s=$(date +%s.%N)
if "${BITNET[@]}" compress --model src/demo/model --output "$OUT/compressed" --overwrite --device cuda \
     --calibration-data src/data/train.txt --eval-data src/demo/heldout.txt --json > "$OUT/compress.json" 2> "$OUT/compress.log"; then
  e=$(date +%s.%N)
  note "engine compress --device cuda" "$(awk -v s=$s -v e=$e 'BEGIN{printf "%.1f s", e-s}') $(head -c 300 "$OUT/compress.json")"
else
  note "engine compress --device cuda" "FAILED rc=$? (see $OUT/compress.log)"; tail -5 "$OUT/compress.log"
fi

# ---- PyTorch, if present -------------------------------------------------------------------------
if command -v python3 >/dev/null && python3 -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
  echo "== PyTorch training step"
  python3 bench/torch_step.py --steps "$STEPS" 2>&1 | tee "$OUT/torch.txt"
  grep '^torch' "$OUT/torch.txt" | while read -r line; do note "$(echo "$line" | cut -d'|' -f1)" "$(echo "$line" | cut -d'|' -f2-)"; done
else
  note "PyTorch" "not installed (or no CUDA in torch): skipped"
fi

echo
echo "================ summary ($(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)) ================"
cat "$SUMMARY"
exit 0
