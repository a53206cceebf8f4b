#!/usr/bin/env bash
# Rebuilds models/demo.gguf from nothing: corpus -> tokenizer -> train -> export -> sample check.
# Usage: tools/demo_model/reproduce.sh [work dir, default build-demo]   (then compare sha256sums)
# Needs Debian 12's python3-torch and python3-numpy (run with /usr/bin/python3).
#
# Speed: Debian's torch calls the system libblas.so.3. The reference BLAS makes training ~25x slower,
# so this script puts OpenBLAS (Debian package libopenblas0-pthread) first on LD_LIBRARY_PATH when it
# is installed, or wherever OPENBLAS_DIR points (e.g. a `dpkg -x` of that package). The shipped model
# was trained with OpenBLAS 0.3.21 (libopenblas0-pthread 0.3.21+ds-4), one thread. A bit-exact re-run
# needs the same torch, the same BLAS and the same thread count.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
work="$(realpath -m "${1:-$root/build-demo}")"
py=/usr/bin/python3
blas="${OPENBLAS_DIR:-/usr/lib/x86_64-linux-gnu/openblas-pthread}"
if [ -e "$blas/libblas.so.3" ]; then
  export LD_LIBRARY_PATH="$blas${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
else
  echo "warning: no OpenBLAS at $blas; training will be slow and not bit-identical" >&2
fi
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
mkdir -p "$work"
cd "$here"

$py corpus.py --seed 1234 --stories 12000 --out "$work/corpus.txt"
$py tokenizer.py --corpus "$work/corpus.txt" --vocab-size 1024 --out "$work/tokenizer.json"
$py train.py --corpus "$work/corpus.txt" --tokenizer "$work/tokenizer.json" --out "$work/run" \
  --seed 1234 --steps 800 --batch 8 --lr 3e-3 --warmup 50 \
  --n-embd 192 --n-layer 4 --n-head 6 --n-head-kv 3 --n-ff 512 --n-ctx 256 \
  --eval-every 50 --ckpt-every 50
# Stage 2: 400 more steps from stage 1's weights (fresh AdamW, cosine 1e-3 -> 1e-4, new batch seed).
$py train.py --corpus "$work/corpus.txt" --tokenizer "$work/tokenizer.json" --out "$work/run2" \
  --seed 1235 --steps 400 --batch 8 --lr 1e-3 --warmup 20 --init "$work/run/ckpt.pt" \
  --n-embd 192 --n-layer 4 --n-head 6 --n-head-kv 3 --n-ff 512 --n-ctx 256 \
  --eval-every 50 --ckpt-every 50
$py export_gguf.py --ckpt "$work/run2/ckpt.pt" --tokenizer "$work/tokenizer.json" \
  --out "$work/demo.gguf"
$py generate.py --model "$work/demo.gguf" --ckpt "$work/run2/ckpt.pt" -n 120 \
  --prompt "Once upon a time" --prompt "One day, a little dog named Max" --seed 1 --samples 2
sha256sum "$work/demo.gguf"
echo "compare with the sha256 in $root/models/README.md"
