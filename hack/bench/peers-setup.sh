#!/usr/bin/env bash
# What bench:peers needs besides Node: the peer servers (KServe's Python server, mosec) with
# onnxruntime and tokenizers, pinned, in a cache venv; and wrk, the neutral load generator, from
# Debian. Prints the venv's python on its last line.
set -euo pipefail
cache_root=${SENTIMENT_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/sentiment-operator}
venv="$cache_root/venv-peers"
pins=('kserve==0.21.0' 'mosec==0.9.8' 'onnxruntime==1.31.1' 'tokenizers==0.23.3' 'numpy==2.3.5')
stamp="$venv/.pins"
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "${pins[*]}" ]; then
  echo "installing ${pins[*]} into $venv" >&2
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${pins[@]}" >&2
  echo "${pins[*]}" > "$stamp"
fi
if ! command -v wrk >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    echo "installing wrk (Debian package)" >&2
    apt-get -o DPkg::Lock::Timeout=600 install -y wrk >&2 || { apt-get update >&2 && apt-get -o DPkg::Lock::Timeout=600 install -y wrk >&2; }
  else
    echo "wrk is missing: install it (Debian: apt-get install wrk)" >&2
    exit 1
  fi
fi
echo "$venv/bin/python"
