#!/usr/bin/env bash
# End-to-end run of the newer families (the report figures of issue 11): per family, a generated
# model (random weights named and shaped as HF saves them, the demo tokenizer) is trained briefly
# without QAT, then compressed with forced QAT fine-tuning; then the FP16 directory and the packed
# model give logits, and the packed model runs ppl and generate.
# Usage: src/scripts/families.sh [OUT_DIR] [HIDDEN LAYERS INTERMEDIATE]   (needs `mvn -o install` first)
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT="${1:-/tmp/bitnet-families}"; H="${2:-128}"; L="${3:-2}"; I="${4:-384}"
J="${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}/bin/java"
mkdir -p "$OUT"
echo '{"fine_tune_batch_size": 4, "fine_tune_sequence_length": 128, "fine_tune_threshold": -1}' > "$OUT/cfg.json"
for f in qwen3 gemma3 phi3 gpt_neox; do
  d="$OUT/$f"
  rm -rf "$d" "$d-trained" "$d-out"
  "$J" --add-modules jdk.incubator.vector -cp engine/target/bitnet.jar:engine/target/test-classes \
    bitnet.engine.compress.FamilyModel "$d" "$f" "$H" "$L" "$I" src/demo/model
  ./bitnet finetune --model "$d" --data src/data/train.txt --output "$d-trained" --steps 40 --lr 2e-3 --warmup 5 \
    --batch-size 4 --seq-len 128 --grokfast off --eval-every 40 --eval-windows 4 --json > "$d-ft.json"
  ./bitnet compress --model "$d-trained" --output "$d-out" --config "$OUT/cfg.json" --fine-tune-steps 30 \
    --eval-data src/demo/heldout.txt --eval-windows 4 --json > "$d.json" || echo "$f: compress exit $? (4 = a quality gate)"
  ./bitnet logits --model "$d-out/bitnet_dequantized_fp16" --ids 5,17,300,4000,8191,42,7,1000 --out "$d-fp16-logits.safetensors"
  ./bitnet logits --model "$d-out" --ids 5,17,300,4000,8191,42,7,1000 --out "$d-packed-logits.safetensors"
  ./bitnet ppl --model "$d-out" --text src/demo/heldout.txt --windows 4 --json
  ./bitnet generate --model "$d-out" --prompt "The " --max-new 20 --greedy --json
done
