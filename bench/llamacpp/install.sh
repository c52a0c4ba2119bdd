# Sourced by bench/llamacpp-check.sh and bench/llamacpp-logits.sh (ROOT set): installs node-llama-cpp
# 3.22.1 with its prebuilt CPU libraries (llama.cpp release v0.5.0) into CACHE, a folder outside the
# repository (BITNET_LLAMACPP_CACHE, default ~/.cache/bitnet-llamacpp), and copies the .mjs scripts
# there (ESM resolves node_modules beside the script).
command -v node >/dev/null && command -v npm >/dev/null || { echo "llamacpp: node and npm are needed" >&2; exit 1; }
CACHE="${BITNET_LLAMACPP_CACHE:-$HOME/.cache/bitnet-llamacpp}"
mkdir -p "$CACHE"
CACHE="$(cd "$CACHE" && pwd -P)"
case "$CACHE/" in "$(cd "$ROOT" && pwd -P)/"*) echo "llamacpp: the cache $CACHE must lie outside the repository" >&2; exit 2 ;; esac
if [ ! -d "$CACHE/node_modules/node-llama-cpp" ] || [ ! -d "$CACHE/node_modules/@node-llama-cpp/linux-x64" ]; then
  echo "llamacpp: installing node-llama-cpp 3.22.1 into $CACHE (about 85 MB)" >&2
  (cd "$CACHE" && { [ -f package.json ] || echo '{"name":"bitnet-llamacpp","private":true}' > package.json; } \
    && npm install --omit=optional --no-audit --no-fund node-llama-cpp@3.22.1 @node-llama-cpp/linux-x64@3.22.1 >&2)
fi
cp "$ROOT"/bench/llamacpp/*.mjs "$CACHE/"
