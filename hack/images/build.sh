#!/usr/bin/env bash
# Builds the project's images from its own Dockerfiles on a Linux machine without a container
# engine: buildah (Debian's package) with --isolation chroot, layers cached in a storage of its own
# under ~/.cache/sentiment-operator/containers. The public base images (Docker Hub, gcr.io) are
# replaced by look-alikes made here from the Debian archive and the npm registry, passed through
# the Dockerfiles' base-image build arguments; the Dockerfiles' defaults stay the pinned public ones.
#
#   hack/images/build.sh [all|bases|runtime|operator|model]...   build (default: all); cached
#   hack/images/build.sh names [all|runtime|operator|model]...   print the image names
#   hack/images/build.sh push REGISTRY [all|runtime|...]...      push NAME to REGISTRY/<NAME without
#                                                                its registry host>, plain http or
#                                                                unverified TLS (a local registry)
#   hack/images/build.sh archive DIR [all|runtime|...]...        write DIR/<name>.tar (docker-archive,
#                                                                tagged NAME: `ctr images import`)
#   hack/images/build.sh buildah ARGS...                         buildah on this storage (mount, images)
#
# Names: ghcr.io/sentiment-operator/sentiment-runtime:V, .../sentiment-operator:V (V: the chart's
# appVersion), .../models/$MODEL_NAME:$MODEL_REVISION-$MODEL_QUANTIZATION. The model image is built
# from $MODEL_DIR (default: the bundled models/sst2-bert-mini-en as 1.0.0, int8: the samples' model).
# Only linux/amd64 (the machine's architecture); the release workflow builds multi-arch with buildx.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"

cache_root=${SENTIMENT_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/sentiment-operator}
store="$cache_root/containers"
runroot=${SENTIMENT_CONTAINERS_RUNROOT:-/run/sentiment-operator/containers}

prefix=${IMAGE_PREFIX:-ghcr.io/sentiment-operator}
version=$(sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' charts/sentiment-operator/Chart.yaml)
: "${MODEL_DIR:=models/sst2-bert-mini-en}" "${MODEL_NAME:=sst2-bert-mini-en}" "${MODEL_REVISION:=1.0.0}" "${MODEL_QUANTIZATION:=int8}"

image_name() {
  case "$1" in
    runtime) echo "$prefix/sentiment-runtime:$version" ;;
    operator) echo "$prefix/sentiment-operator:$version" ;;
    model) echo "$prefix/models/$MODEL_NAME:$MODEL_REVISION-$MODEL_QUANTIZATION" ;;
    *) echo "unknown image '$1' (runtime, operator, model or all)" >&2; return 2 ;;
  esac
}
targets() { if [ $# -eq 0 ] || [ "$*" = all ]; then echo runtime operator model; else echo "$@"; fi; }

# overlay needs the kernel's overlayfs over the cache's filesystem; vfs works anywhere, only slower
# and bigger (a full copy per layer), so it is the fallback, in a storage of its own.
driver=${SENTIMENT_STORAGE_DRIVER:-}
bh() {
  if [ -z "$driver" ]; then
    if buildah --root "$store/storage" --runroot "$runroot" --storage-driver overlay images >/dev/null 2>&1; then driver=overlay; else driver=vfs; fi
  fi
  if [ "$driver" = overlay ]; then
    buildah --root "$store/storage" --runroot "$runroot" --storage-driver overlay "$@"
  else
    buildah --root "$store/storage-$driver" --runroot "$runroot-$driver" --storage-driver "$driver" "$@"
  fi
}

ensure_tools() {
  local missing=()
  for tool in buildah:buildah mmdebstrap:mmdebstrap skopeo:skopeo; do
    command -v "${tool%%:*}" >/dev/null || missing+=("${tool#*:}")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "installing ${missing[*]} from the Debian archive" >&2
    apt-get -o DPkg::Lock::Timeout=900 update -q >&2
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 install -y -q --no-install-recommends "${missing[@]}" >&2
  fi
}

# Bump when a base recipe below changes: the tag names the recipe, so a cached base is rebuilt.
base_recipe=2
name_bases() {
  node_dir=$(bash "$root/hack/ensure-node.sh" --registry)
  node_version=$("$node_dir/node" --version | tr -d v)
  npm_version=11.19.1 # Node 24 ships npm 11
  debian_base=localhost/sentiment-base/debian:bookworm-r$base_recipe
  node_base=localhost/sentiment-base/node:$node_version-bookworm-r$base_recipe
  distroless_base=localhost/sentiment-base/distroless-nodejs:$node_version-r$base_recipe
  busybox_base=localhost/sentiment-base/busybox:bookworm-r$base_recipe
}
suites=("deb http://deb.debian.org/debian bookworm main" "deb http://deb.debian.org/debian bookworm-updates main" "deb http://deb.debian.org/debian-security bookworm-security main")
# The machine's CA bundle (it may trust a proxy's CA) is mounted into build steps, never into an image.
build_ca=${NODE_EXTRA_CA_CERTS:-${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}}

have_image() { bh inspect --type image "$1" >/dev/null 2>&1; }

# commit_rootfs NAME TAR [buildah config flags...]: an image whose only layer is TAR's contents.
commit_rootfs() {
  local name=$1 tar=$2 c
  shift 2
  c=$(bh from scratch)
  bh add --quiet "$c" "$tar" /
  if [ $# -gt 0 ]; then bh config "$@" "$c"; fi
  bh commit --rm --quiet "$c" "$name" >/dev/null
  echo "built base $name" >&2
}

build_bases() {
  if have_image "$debian_base" && have_image "$node_base" && have_image "$distroless_base" && have_image "$busybox_base"; then return; fi
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT

  # node:*-bookworm-slim: Debian minbase, node and npm in /usr/local.
  mmdebstrap --quiet --variant=minbase --include=ca-certificates bookworm "$tmp/debian.tar" "${suites[@]}" </dev/null
  commit_rootfs "$debian_base" "$tmp/debian.tar" --cmd '["/bin/bash"]'
  mkdir -p "$tmp/node/usr/local/bin" "$tmp/node/usr/local/lib/node_modules"
  cp "$node_dir/node" "$tmp/node/usr/local/bin/node"
  (cd "$tmp" && npm pack --silent "npm@$npm_version" >/dev/null)
  tar -xzf "$tmp"/npm-*.tgz -C "$tmp/node/usr/local/lib/node_modules" && mv "$tmp/node/usr/local/lib/node_modules/package" "$tmp/node/usr/local/lib/node_modules/npm"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$tmp/node/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$tmp/node/usr/local/bin/npx"
  tar --numeric-owner --owner=0 --group=0 -C "$tmp/node" -cf "$tmp/node.tar" .
  local c
  c=$(bh from --pull=never "$debian_base")
  bh add --quiet "$c" "$tmp/node.tar" /
  bh config --env NODE_VERSION="$node_version" --env NODE_EXTRA_CA_CERTS=/etc/ssl/certs/build-ca.crt --cmd '["node"]' "$c"
  bh commit --rm --quiet "$c" "$node_base" >/dev/null
  echo "built base $node_base" >&2

  # gcr.io/distroless/nodejs24-debian12:nonroot: glibc, libstdc++, CA certificates, /nodejs/bin/node,
  # user nonroot (65532); no shell, no package manager.
  mkdir -p "$tmp/distroless"
  mmdebstrap --quiet --variant=extract --include=base-files,netbase,libc6,libgcc-s1,libstdc++6 bookworm "$tmp/distroless" "${suites[@]}" </dev/null
  rm -rf "$tmp/distroless/var/lib/apt" "$tmp/distroless/var/cache/apt" "$tmp/distroless/var/lib/dpkg" "$tmp/distroless/usr/share/doc" "$tmp/distroless/usr/share/man" \
    "$tmp/distroless/usr/bin/mawk" # base-files' awk: distroless has none
  for sh in bin/sh bin/bash bin/dash usr/bin/sh usr/bin/bash usr/bin/dash; do
    if [ -e "$tmp/distroless/$sh" ]; then echo "the distroless base has a shell at /$sh" >&2; exit 1; fi
  done
  mkdir -p "$tmp/distroless/etc/ssl/certs" "$tmp/distroless/nodejs/bin" "$tmp/distroless/home/nonroot" "$tmp/distroless/tmp"
  tar -xOf "$tmp/debian.tar" ./etc/ssl/certs/ca-certificates.crt >"$tmp/distroless/etc/ssl/certs/ca-certificates.crt"
  printf 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >"$tmp/distroless/etc/passwd"
  printf 'root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n' >"$tmp/distroless/etc/group"
  cp "$node_dir/node" "$tmp/distroless/nodejs/bin/node"
  chmod 1777 "$tmp/distroless/tmp"
  chown 65532:65532 "$tmp/distroless/home/nonroot" && chmod 0700 "$tmp/distroless/home/nonroot"
  tar --numeric-owner -C "$tmp/distroless" -cf "$tmp/distroless.tar" .
  commit_rootfs "$distroless_base" "$tmp/distroless.tar" --user 65532:65532 --workingdir /home/nonroot \
    --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --env SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
    --entrypoint '["/nodejs/bin/node"]'

  # busybox: Debian's static busybox with its applets linked in /bin.
  mkdir -p "$tmp/busybox"
  mmdebstrap --quiet --variant=extract --include=busybox-static bookworm "$tmp/busybox" "${suites[@]}" </dev/null
  rm -rf "$tmp/busybox/var" "$tmp/busybox/usr/share"
  for applet in $("$tmp/busybox/bin/busybox" --list); do
    [ -e "$tmp/busybox/bin/$applet" ] || ln -s busybox "$tmp/busybox/bin/$applet"
  done
  mkdir -p "$tmp/busybox/etc" "$tmp/busybox/tmp" && chmod 1777 "$tmp/busybox/tmp"
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n' >"$tmp/busybox/etc/passwd"
  printf 'root:x:0:\nnobody:x:65534:\n' >"$tmp/busybox/etc/group"
  tar --numeric-owner --owner=0 --group=0 -C "$tmp/busybox" -cf "$tmp/busybox.tar" .
  commit_rootfs "$busybox_base" "$tmp/busybox.tar" --cmd '["sh"]'
}

bud() {
  local name=$1 started=$SECONDS
  shift
  local proxy=()
  for var in http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY; do
    if [ -n "${!var:-}" ]; then proxy+=(--build-arg "$var=${!var}"); fi
  done
  # --isolation chroot: RUN steps share the machine's network and change nothing on it (the oci
  # isolation's network setup rewrites the host's NAT rules).
  bh bud --isolation chroot --layers --pull=never --quiet \
    --volume "$build_ca:/etc/ssl/certs/build-ca.crt:ro" "${proxy[@]}" \
    --build-arg NODE_IMAGE="$node_base" --build-arg DISTROLESS_IMAGE="$distroless_base" \
    --tag "$name" "$@" . >/dev/null
  echo "built $name in $((SECONDS - started)) s" >&2
}

build() {
  local target
  for target in $(targets "$@"); do
    case "$target" in
      bases) ;;
      runtime)
        # buildah 1.28 leaves ${VARIANT} in `FROM base-${VARIANT}` unexpanded unless it is passed.
        # The cuda variant's bases are not built here; its stages only need a shell for the cpu one.
        bud "$(image_name runtime)" -f Dockerfile.runtime --build-arg VARIANT=cpu \
          --build-arg CUDA_IMAGE="$debian_base" --build-arg PYTHON_IMAGE="$debian_base" ;;
      operator) bud "$(image_name operator)" -f Dockerfile.operator ;;
      model)
        bud "$(image_name model)" -f hack/model-image/Dockerfile --build-arg BASE_IMAGE="$busybox_base" \
          --build-arg MODEL_DIR="$MODEL_DIR" --build-arg MODEL_NAME="$MODEL_NAME" \
          --build-arg MODEL_REVISION="$MODEL_REVISION" --build-arg MODEL_QUANTIZATION="$MODEL_QUANTIZATION" ;;
      *) image_name "$target" >/dev/null ;;
    esac
  done
}


verb=${1:-all}
case "$verb" in
  names)
    shift
    for target in $(targets "$@"); do image_name "$target"; done ;;
  push)
    registry=${2:?usage: $0 push REGISTRY [images...]}
    shift 2
    for target in $(targets "$@"); do
      name=$(image_name "$target")
      bh push --quiet --tls-verify=false "$name" "docker://$registry/${name#*/}"
      echo "pushed $registry/${name#*/}" >&2
    done ;;
  archive)
    dir=${2:?usage: $0 archive DIR [images...]}
    shift 2
    mkdir -p "$dir"
    for target in $(targets "$@"); do
      name=$(image_name "$target")
      file="$dir/$(basename "${name%%:*}").tar"
      rm -f "$file"
      bh push --quiet "$name" "docker-archive:$file:$name"
      echo "$file"
    done ;;
  buildah)
    shift
    bh "$@" ;;
  *)
    ensure_tools
    started=$SECONDS
    # One build at a time on this storage (CI's test setup and the cluster harness may both ask).
    mkdir -p "$store"
    exec 9>"$store/lock"
    flock 9
    name_bases
    build_bases
    build "$@"
    echo "images ready in $((SECONDS - started)) s" >&2 ;;
esac
