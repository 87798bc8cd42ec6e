#!/usr/bin/env bash
# Packs a model directory as the .tar.gz a URL model (spec.model.url) downloads, and prints the
# sha256 to put beside its URL. The archive is reproducible: the same files give the same bytes
# (sorted names, fixed mtime and owner, no gzip timestamp), so the published sha256 can be re-checked.
#   hack/model-image/archive.sh MODEL_DIR OUT.tar.gz
set -euo pipefail
if [ $# -ne 2 ] || [ ! -d "$1" ]; then
  echo "usage: $0 MODEL_DIR OUT.tar.gz" >&2
  exit 2
fi
dir=$(cd "$1" && pwd)
out=$2
for f in config.json tokenizer.json; do
  [ -f "$dir/$f" ] || { echo "$0: $dir/$f is missing: not a model directory" >&2; exit 1; }
done
# One top folder named after the model directory, readable by anyone (the runtime runs as uid 65532).
tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner --mode=a+rX,go-w --format=gnu \
  -C "$(dirname "$dir")" -cf - "$(basename "$dir")" | gzip -9 -n > "$out"
sha256sum "$out" | cut -d' ' -f1
