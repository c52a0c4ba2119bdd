#!/usr/bin/env bash
# Streaming compression of a generated 3 GB sharded BF16 Llama under a 512 MB heap: shows that
# peak memory does not follow model size. Generates the model (random weights; 28 layers,
# hidden 2048, intermediate 5632, vocab 8000, 6 shards: 1.47 G parameters, 2.94 GB), runs
# StreamingCompressor with -Xmx512m under /usr/bin/time -v, prints peak RSS and read GB/s, then
# deletes everything. Needs ~6 GB free under WORK (model + FP16 output + packed file).
# Usage: src/scripts/stream-3gb.sh [LAYERS=28]   Env: WORK (default mktemp under /tmp), KEEP=1 keeps files.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
LAYERS=${1:-28}
if [ -z "${JAVA_HOME:-}" ] || ! "$JAVA_HOME/bin/java" -version 2>&1 | grep -q '"2[5-9]'; then
  for d in /usr/lib/jvm/temurin-25* /usr/lib/jvm/*25*; do [ -x "$d/bin/javac" ] && export JAVA_HOME="$d" && break; done
fi
WORK=${WORK:-$(mktemp -d /tmp/bitnet-stream.XXXXXX)}
[ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$WORK"' EXIT
cd "$ROOT"
# offline first; online when the local Maven repository lacks a dependency or plugin (a fresh machine)
mvnb() { mvn -o -q -B "$@" >/dev/null 2>&1 || mvn -q -B "$@" >&2; }
mvnb test-compile -pl io,kernels,engine -am
mvnb dependency:build-classpath -pl engine -am -Dmdep.outputFile="$WORK/cp.txt" -Dmdep.includeScope=test >&2
CP="engine/target/test-classes:engine/target/classes:kernels/target/classes:io/target/classes:$(cat "$WORK/cp.txt")"
JAVA=("$JAVA_HOME/bin/java" --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -XX:+UseParallelGC)
df -h "$WORK" | tail -1 >&2
"${JAVA[@]}" -Xmx512m -cp "$CP" bitnet.engine.compress.SyntheticModel "$WORK/model" "$LAYERS" 2048 5632 8000 6 >&2
du -sh "$WORK/model" >&2
/usr/bin/time -v "${JAVA[@]}" -Xmx512m -cp "$CP" bitnet.engine.compress.StreamRun "$WORK/model" "$WORK/out" \
  >"$WORK/result.json" 2>"$WORK/time.txt" || { tail -30 "$WORK/time.txt" >&2; exit 1; }
du -sh "$WORK/out"/* >&2
python3 - "$WORK/result.json" "$WORK/time.txt" <<'PY'
import json, re, sys
r = json.load(open(sys.argv[1])); t = open(sys.argv[2]).read()
rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", t).group(1))
wall = re.search(r"Elapsed \(wall clock\) time.*: (\S+)", t).group(1)
m = r["metrics"]
print(f"model {m['bytes_read']/1e9:.2f} GB read, {m['parameters']:,} parameters, {m['layers_quantized']} quantized")
print(f"peak RSS {rss/1024:.0f} MB (-Xmx512m), wall {wall}, streaming total {r['timings_s']['total']:.1f} s, "
      f"{m['read_gb_per_s']:.3f} GB/s of input, compression ratio {m['compression_ratio']:.2f}")
PY
