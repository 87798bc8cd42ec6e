#!/usr/bin/env bash
# Builds (or reuses) kube-router, used ONLY by the tests as the real node's NetworkPolicy enforcer:
# the node's CNI bridge plugin enforces no policy, so test/support/node.ts runs kube-router's
# network-policy controller alone (no routing, no service proxy) inside the node's network
# namespace, whose iptables rules and ipsets are its own; the host's firewall is never touched.
# Never shipped in an image or the chart: the Go proxy has v2.1.0 only, with reported security
# flaws, which matter for a component that runs in a throwaway test netns on cluster test data only.
# Also installs the ipset tool kube-router drives (Debian's). Idempotent; compiled once into a
# cache outside the repository, keyed by version, one build at a time.
# Prints the binary's path on its last line.
set -euo pipefail

version=v2.1.0
cache_root=${SENTIMENT_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/sentiment-operator}
dir="$cache_root/kube-router-$version"
bin="$dir/bin/kube-router"

if ! command -v ipset >/dev/null; then
  echo "installing ipset from the Debian archive" >&2
  apt-get -o DPkg::Lock::Timeout=900 update -q >&2
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 install -y -q --no-install-recommends ipset >&2
fi

if [ ! -x "$bin" ]; then
  mkdir -p "$dir"
  exec 9>"$dir/lock"
  flock 9
  if [ ! -x "$bin" ]; then
    echo "building kube-router $version (github.com/cloudnativelabs/kube-router/v2) ..." >&2
    rm -rf "$dir/bin.tmp"
    (cd / && GOBIN="$dir/bin.tmp" CGO_ENABLED=0 go install -trimpath \
      -ldflags "-s -w -X github.com/cloudnativelabs/kube-router/v2/pkg/version.Version=$version" \
      "github.com/cloudnativelabs/kube-router/v2/cmd/kube-router@$version")
    mkdir -p "$dir/bin"
    mv "$dir/bin.tmp/kube-router" "$bin"
    rmdir "$dir/bin.tmp"
  fi
fi
echo "$bin"
