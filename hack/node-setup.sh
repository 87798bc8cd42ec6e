#!/usr/bin/env bash
# Installs (or reuses) what a real Kubernetes node needs on this machine beside the binaries
# hack/envtest-setup.sh builds (kubelet, kube-proxy): containerd, runc, the CNI plugins, nftables
# for kube-proxy and a registry, from the Debian archive; and the pod sandbox ("pause") image,
# compiled from the pause.c of the same k8s.io/kubernetes module (no registry is reachable here),
# as a docker-archive that `ctr images import` takes. Idempotent; quick once done.
# Prints the archive's path on its last line.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
k8s_version=$(awk '$1 == "k8s.io/kubernetes" { print $2; exit }' "$here/k8s/go.mod")
cache_root=${SENTIMENT_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/sentiment-operator}

missing=()
for tool in containerd:containerd runc:runc /usr/lib/cni/bridge:containernetworking-plugins \
  docker-registry:docker-registry nft:nftables gcc:gcc; do
  path=${tool%%:*}
  if [[ $path == /* ]]; then [ -x "$path" ] || missing+=("${tool#*:}"); else command -v "$path" >/dev/null || missing+=("${tool#*:}"); fi
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]} from the Debian archive" >&2
  apt-get -o DPkg::Lock::Timeout=900 update -q >&2
  # The packages' services are not started: the node runs its own containerd and registry.
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 install -y -q --no-install-recommends "${missing[@]}" >&2
fi

k8s_dir=$(cd "$here/k8s" && go list -m -f '{{.Dir}}' k8s.io/kubernetes)
pause_version=$(sed -n 's/^TAG ?= *//p' "$k8s_dir/build/pause/Makefile")
archive="$cache_root/k8s-$k8s_version/pause-$pause_version.tar"
if [ ! -s "$archive" ]; then
  echo "building registry.k8s.io/pause:$pause_version from $k8s_dir/build/pause/linux/pause.c ..." >&2
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  mkdir "$work/rootfs"
  gcc -Os -Wall -Werror -static -DVERSION="v$pause_version" -o "$work/rootfs/pause" "$k8s_dir/build/pause/linux/pause.c"
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$work/rootfs" -cf "$work/layer.tar" pause
  diff_id=$(sha256sum "$work/layer.tar" | cut -d' ' -f1)
  # The image config as the upstream Dockerfile makes it: /pause as entrypoint, user 65535.
  printf '{"architecture":"amd64","os":"linux","config":{"Entrypoint":["/pause"],"User":"65535:65535"},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
    "$diff_id" >"$work/config.json"
  config_id=$(sha256sum "$work/config.json" | cut -d' ' -f1)
  mkdir "$work/archive" "$work/archive/$diff_id"
  mv "$work/layer.tar" "$work/archive/$diff_id/layer.tar"
  mv "$work/config.json" "$work/archive/$config_id.json"
  printf '[{"Config":"%s.json","RepoTags":["registry.k8s.io/pause:%s"],"Layers":["%s/layer.tar"]}]' \
    "$config_id" "$pause_version" "$diff_id" >"$work/archive/manifest.json"
  mkdir -p "$(dirname "$archive")"
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$work/archive" -cf "$archive.tmp" .
  mv "$archive.tmp" "$archive"
fi
echo "$archive"
