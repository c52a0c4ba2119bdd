#!/usr/bin/env bash
# Builds the runtime image: a folder (and a tarball) holding a jlink'd Java runtime with the
# engine's modules, the demo model and corpus, and bin/bitnet. It runs every command on a Linux
# x86-64 machine with no JDK and no Maven:
#   target/dist/bitnet-0.1.0/bin/bitnet compress --output /tmp/out
# The image is CPU-only: JCuda is an automatic module, which jlink cannot link (GPU runs use the
# jar: ./bitnet, or bench/gpu-check.sh). Needs JDK 25 and Maven here, once.
# Usage: src/scripts/dist.sh [--no-build] [--no-data]
# Extra Maven flags (e.g. -o for an offline build): DIST_MVN_FLAGS="-o" src/scripts/dist.sh
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD=1
DATA=1
for a in "$@"; do
  case "$a" in
    --no-build) BUILD=0 ;;
    --no-data) DATA=0 ;;
    *) echo "usage: $0 [--no-build] [--no-data]" >&2; exit 2 ;;
  esac
done
if [ -z "${JAVA_HOME:-}" ] || ! "$JAVA_HOME/bin/java" -version 2>&1 | grep -q '"2[5-9]'; then
  for d in /usr/lib/jvm/temurin-25* /usr/lib/jvm/*25*; do
    [ -x "$d/bin/jlink" ] && export JAVA_HOME="$d" && break
  done
fi
[ -x "${JAVA_HOME:-}/bin/jlink" ] || { echo "dist.sh: needs a JDK 25 with jlink (set JAVA_HOME)" >&2; exit 1; }
cd "$ROOT"
VERSION=0.1.0
NAME="bitnet-$VERSION"
OUT="$ROOT/target/dist"
IMG="$OUT/$NAME"
MODS="$OUT/mods"

if [ "$BUILD" = 1 ]; then
  mvn -B -q ${DIST_MVN_FLAGS:-} install -DskipTests -pl io,kernels,engine -am
fi
rm -rf "$IMG" "$MODS"
mkdir -p "$MODS"
cp io/target/bitnet-io-$VERSION.jar kernels/target/bitnet-kernels-$VERSION.jar engine/target/bitnet-engine-$VERSION.jar "$MODS/"
# runtime dependencies (Jackson, picocli) as modules; JCuda stays out (automatic module, GPU only)
mvn -B -q ${DIST_MVN_FLAGS:-} -pl engine dependency:copy-dependencies -DincludeScope=runtime -DexcludeGroupIds=org.jcuda,bitnet \
  -DoutputDirectory="$MODS"

# the public API's javadoc: every public type documented, no doclint warning
"$ROOT/src/scripts/javadoc-check.sh" "$JAVA_HOME/bin/javadoc" "$(ls "$MODS"/*.jar | grep -v bitnet-engine | tr '\n' ':')" "$OUT/apidocs"

"$JAVA_HOME/bin/jlink" --module-path "$MODS" --add-modules bitnet.engine,jdk.incubator.vector \
  --strip-debug --no-header-files --no-man-pages --compress zip-6 --output "$IMG"

cat > "$IMG/bin/bitnet" <<'LAUNCHER'
#!/bin/sh
# bitnet from the runtime image: needs nothing but this folder. JVM options: BITNET_JAVA_OPTS.
# -XX:-UsePerfData: no /tmp/hsperfdata_* file. The image is CPU-only (no JCuda inside), so the
# CUDA probe is off: nothing native is looked up or loaded.
HERE="$(cd "$(dirname "$0")/.." && pwd)"
exec "$HERE/bin/java" -XX:+UseParallelGC -XX:-UsePerfData -Dbitnet.nocuda=true ${BITNET_JAVA_OPTS:-} -Dbitnet.home="$HERE" \
  -m bitnet.engine/bitnet.engine.cli.Main "$@"
LAUNCHER
chmod +x "$IMG/bin/bitnet"
if [ "$DATA" = 1 ]; then
  # the demo model, its held-out text and the bundled corpus: `bin/bitnet compress` works as ./bitnet compress
  mkdir -p "$IMG/src"
  cp -r src/demo "$IMG/src/demo"
  cp -r src/data "$IMG/src/data"
fi
cp LICENSE "$IMG/LICENSE.bitnet"
tar -C "$OUT" -czf "$OUT/$NAME-linux-x64.tar.gz" "$NAME"
echo "image: $IMG ($(du -sh "$IMG" | cut -f1); runtime without data $(du -sh --exclude=src "$IMG" | cut -f1))"
echo "tarball: $OUT/$NAME-linux-x64.tar.gz ($(du -h "$OUT/$NAME-linux-x64.tar.gz" | cut -f1))"
