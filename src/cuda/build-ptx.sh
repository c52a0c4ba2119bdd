#!/usr/bin/env bash
# Compiles every src/cuda/*.cu to PTX and writes it under kernels' resources, where CudaKernels
# loads it with cuModuleLoadData. The PTX is committed, so ordinary builds need no nvcc; run this
# after changing a .cu file. PTX is forward compatible: the driver JIT-compiles it for newer GPUs.
# CUDA 13's nvcc starts at compute_75 (Turing); the PTX differs per arch only in its .target line, so
# one compute_75 file serves Turing to Hopper (set ARCHS="75 90" to add more; the loader picks the
# highest arch not above the device's).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OUT="$HERE/../../kernels/src/main/resources/bitnet/cuda"
NVCC="${NVCC:-nvcc}"
ARCHS="${ARCHS:-75}"
mkdir -p "$OUT"
rm -f "$OUT"/*.ptx
for cu in "$HERE"/*.cu; do
  name="$(basename "$cu" .cu)"
  for a in $ARCHS; do
    "$NVCC" -ptx -O3 -std=c++17 -arch=compute_$a -o "$OUT/$name.sm$a.ptx" "$cu"
  done
done
ls "$OUT"/*.ptx | sed 's|.*/||' > "$OUT/index.txt"
echo "wrote $(wc -l < "$OUT/index.txt") PTX files to $OUT"
