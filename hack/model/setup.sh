#!/usr/bin/env bash
# A cached virtualenv with the model tools' pinned Python packages (hack/model/requirements.txt).
#   hack/model/setup.sh            quantize.py and evaluate.py: onnx, onnxruntime, tokenizers
#   hack/model/setup.sh --export   also export.py's PyTorch, transformers and optimum (a few GB)
# Reinstalls only when a requirements file changes. Prints the venv's python on its last line.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache_root=${SENTIMENT_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/sentiment-operator}
venv="$cache_root/venv-model-tools"

case "${1:-}" in
  '') files=(requirements.txt) ;;
  --export) files=(requirements.txt requirements-export.txt) ;;
  *) echo "usage: $0 [--export]" >&2; exit 2 ;;
esac

# One stamp per requirements file, holding the checksum of what was installed from it.
stale=()
for file in "${files[@]}"; do
  if [ "$(cat "$venv/.stamp-$file" 2>/dev/null)" != "$(sha256sum < "$here/$file")" ]; then stale+=("$file"); fi
done
if [ ! -x "$venv/bin/python" ] || [ ${#stale[@]} -gt 0 ]; then
  echo "installing ${files[*]} into $venv" >&2
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  # All files in one resolve, so the export pins and the base pins are checked against each other.
  "$venv/bin/pip" install --quiet --disable-pip-version-check "${files[@]/#/--requirement=$here/}" >&2
  for file in "${files[@]}"; do sha256sum < "$here/$file" > "$venv/.stamp-$file"; done
fi
echo "$venv/bin/python"
