#!/usr/bin/env bash
# The test command of the README: finds JDK 25 and runs every module's tests with Maven.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
if [ -z "${JAVA_HOME:-}" ] || ! "$JAVA_HOME/bin/java" -version 2>&1 | grep -q '"2[5-9]'; then
  for d in /usr/lib/jvm/temurin-25* /usr/lib/jvm/*25*; do
    [ -x "$d/bin/javac" ] && export JAVA_HOME="$d" && break
  done
fi
cd "$ROOT"
exec mvn -B -ntp install "$@"
