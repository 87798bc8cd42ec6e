#!/usr/bin/env bash
# A virtualenv with the real KServe V2 / Triton HTTP client the tests use against the runtime.
# Prints the venv's python on its last line.
set -euo pipefail
cache_root=${SENTIMENT_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/sentiment-operator}
venv="$cache_root/venv-v2client"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import tritonclient.http' 2>/dev/null; then
  echo "installing tritonclient[http] into $venv" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check 'tritonclient[http]==2.73.0' >&2
fi
echo "$venv/bin/python"
