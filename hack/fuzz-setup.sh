#!/usr/bin/env bash
# A virtualenv with schemathesis, the property-based API fuzzer the runtime's OpenAPI test runs.
# Its own venv, beside the V2 client's, so neither install disturbs the other. Prints its CLI's path
# on the last line.
set -euo pipefail
cache_root=${SENTIMENT_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/sentiment-operator}
version=4.32.5
venv="$cache_root/venv-schemathesis-$version"
if [ ! -x "$venv/bin/st" ]; then
  echo "installing schemathesis $version into $venv" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$version" >&2
fi
echo "$venv/bin/st"
