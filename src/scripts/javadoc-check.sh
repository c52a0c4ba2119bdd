#!/usr/bin/env bash
# The public API's javadoc (module bitnet.engine, which exports only bitnet.api), with every doclint
# check on: fails on any warning or error. The one warning allowed is the JDK's notice that the
# incubating Vector API module is resolved (javadoc's -Werror would fail on it, so warnings are
# counted here instead). Run by the engine build (phase verify) and by dist.sh.
# Usage: javadoc-check.sh JAVADOC PATHS OUTDIR
#   PATHS: the engine's dependencies, ':'-separated (jars or module class folders); the engine's own
#   classes folder, if listed, is left out (javadoc reads the engine from its sources)
set -euo pipefail
[ $# -eq 3 ] || { echo "usage: $0 JAVADOC PATHS OUTDIR" >&2; exit 2; }
JAVADOC="$1"
OUTDIR="$3"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
MP=""
IFS=':' read -r -a entries <<< "$2"
for e in "${entries[@]}"; do
  case "$e" in
    "" | */engine/target/classes | */engine/target/classes/) ;;
    *) MP="${MP:+$MP:}$e" ;;
  esac
done
rm -rf "$OUTDIR"
mkdir -p "$OUTDIR"
LOG="$OUTDIR.log"
rc=0
"$JAVADOC" -Xdoclint:all -quiet -d "$OUTDIR" --module-path "$MP" \
  --module-source-path "bitnet.engine=$ROOT/engine/src/main/java" --module bitnet.engine > "$LOG" 2>&1 || rc=$?
if [ "$rc" != 0 ] || grep -v "incubat" "$LOG" | grep -vE "^[0-9]+ warnings?$" | grep -qiE "warning|error"; then
  cat "$LOG" >&2
  echo "javadoc-check: the API's javadoc has warnings or errors (see above)" >&2
  exit 1
fi
echo "javadoc of bitnet.api: $OUTDIR/index.html (no warnings)"
