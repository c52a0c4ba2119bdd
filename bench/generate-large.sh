#!/usr/bin/env bash
# bench/generate-large.sh: batch-1 generation on a Llama of realistic width, where the weights no
# longer fit in the caches: a generated model (random BF16 weights; default 8 layers, hidden 2048,
# intermediate 5632, vocab 32000: 0.54 G parameters, 1.1 GB) is compressed without fine-tuning
# (streaming), then `./bitnet speed --generate-only` times greedy decoding with the packed ternary
# weights and with the BF16 weights as stored, on 1 and 2 threads. Prints one line per case.
# Needs ~3 GB free under WORK. Usage: bench/generate-large.sh [LAYERS] [HIDDEN] [INTER] [VOCAB]
# PEAKED=K: a model with peaked outputs (embeddings x K, lm_head = embeddings shifted by a row; see
# SyntheticModel), for top-1 comparisons that are not decided by near-ties. KEEP=1 keeps WORK.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LAYERS=${1:-8} HIDDEN=${2:-2048} INTER=${3:-5632} VOCAB=${4:-32000}
if [ -z "${JAVA_HOME:-}" ] || ! "$JAVA_HOME/bin/java" -version 2>&1 | grep -q '"2[5-9]'; then
  for d in /usr/lib/jvm/temurin-25* /usr/lib/jvm/*25*; do [ -x "$d/bin/javac" ] && export JAVA_HOME="$d" && break; done
fi
WORK=${WORK:-$(mktemp -d /tmp/bitnet-genlarge.XXXXXX)}
[ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$WORK"' EXIT
cd "$ROOT"
# offline first; online when the local Maven repository lacks a dependency or plugin (a fresh machine)
mvnb() { mvn -o -q -B "$@" >/dev/null 2>&1 || mvn -q -B "$@" >&2; }
mvnb install -DskipTests
mvnb dependency:build-classpath -pl engine -Dmdep.outputFile="$WORK/cp.txt" -Dmdep.includeScope=test >&2
CP="engine/target/test-classes:engine/target/classes:kernels/target/classes:io/target/classes:$(cat "$WORK/cp.txt")"
"$JAVA_HOME/bin/java" --add-modules jdk.incubator.vector -Xmx512m -cp "$CP" bitnet.engine.compress.SyntheticModel \
  "$WORK/model" "$LAYERS" "$HIDDEN" "$INTER" "$VOCAB" 1 "${PEAKED:-0}" 2>/dev/null
# the demo's tokenizer where the vocabularies match (8192), so that `ppl` and bench/compare can score text
if python3 -c "import json,sys; sys.exit(len(json.load(open('src/demo/model/tokenizer.json'))['model']['vocab']) != $VOCAB)"; then
  cp src/demo/model/tokenizer.json "$WORK/model/"
fi
echo "model: $(du -sh "$WORK/model" | cut -f1) BF16, $LAYERS layers, hidden $HIDDEN, intermediate $INTER, vocab $VOCAB" >&2
BITNET_NO_BUILD=1 ./bitnet compress --model "$WORK/model" --output "$WORK/packed" --no-fine-tune --streaming on \
  --max-accuracy-drop 100 --target-ratio 1 >/dev/null 2>"$WORK/compress.err" || { tail -5 "$WORK/compress.err" >&2; exit 1; }
echo "packed: $(du -sh "$WORK/packed/bitnet_quantized_model.safetensors" | cut -f1)" >&2
for W in packed model; do
  for T in 1 2; do
    BITNET_NO_BUILD=1 ./bitnet speed --model "$WORK/model" --gen-model "$WORK/$W" --generate-only --threads "$T" \
      --gen-tokens 32 2>/dev/null | python3 -c "import json,sys; d=json.load(sys.stdin); \
print(f\"{d['generate_weights']:15} {sys.argv[1]} thread(s): {d['generate_tokens_per_s']:8.1f} tokens/s\")" "$T"
  done
done
