#!/usr/bin/env bash
# Builds (or reuses) the real Kubernetes control plane the integration tests run against:
# etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl and kwok, plus the
# kubelet and kube-proxy of the real node (hack/node-setup.sh adds the rest of the node),
# compiled from the Go module proxy into a cache outside the repository.
# Prints the bin directory on its last line.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
k8s_version=$(awk '$1 == "k8s.io/kubernetes" { print $2; exit }' "$here/k8s/go.mod")
kwok_version=v0.8.0
helm_version=v3.22.0
# Prometheus' Go module carries promtool; v0.316.0 is Prometheus 3.16.
prometheus_version=v0.316.0
prometheus_operator_version=v0.85.0
cache_root=${SENTIMENT_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/sentiment-operator}
bin="$cache_root/k8s-$k8s_version/bin"
mkdir -p "$bin"

# Stamp the version into the binaries the way the Kubernetes release build does, so
# `/version` and client compatibility checks see a real release, not v0.0.0.
git_version=$k8s_version
minor=$(echo "$k8s_version" | cut -d. -f2)
ldflags="-s -w"
for pkg in k8s.io/client-go/pkg/version k8s.io/component-base/version; do
  ldflags+=" -X $pkg.gitVersion=$git_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
  ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
done

build() {
  local name=$1 pkg=$2
  if [ -x "$bin/$name" ]; then return; fi
  echo "building $name ($pkg) ..." >&2
  (cd "$here/k8s" && CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$bin/$name.tmp" "$pkg")
  mv "$bin/$name.tmp" "$bin/$name"
}

build etcd ./cmd/etcd
build kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver
build kube-controller-manager k8s.io/kubernetes/cmd/kube-controller-manager
build kube-scheduler k8s.io/kubernetes/cmd/kube-scheduler
build kubectl k8s.io/kubernetes/cmd/kubectl
build kubelet k8s.io/kubernetes/cmd/kubelet
build kube-proxy k8s.io/kubernetes/cmd/kube-proxy

install_tool() {
  local name=$1 module=$2 extra_ldflags=${3:-}
  if [ -x "$bin/$name" ]; then return; fi
  echo "building $name ($module) ..." >&2
  GOBIN="$bin" CGO_ENABLED=0 go install -trimpath -ldflags "-s -w $extra_ldflags" "$module"
}
install_tool kwok "sigs.k8s.io/kwok/cmd/kwok@$kwok_version"
# helm renders and lints the chart; promtool checks and unit-tests the alerting rules.
# As helm's release build does: its version, and the Kubernetes version it assumes offline.
helm_ldflags="-X helm.sh/helm/v3/internal/version.version=$helm_version"
for pkg in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
  helm_ldflags+=" -X $pkg.k8sVersionMajor=1 -X $pkg.k8sVersionMinor=$minor"
done
install_tool helm "helm.sh/helm/v3/cmd/helm@$helm_version" "$helm_ldflags"
install_tool promtool "github.com/prometheus/prometheus/cmd/promtool@$prometheus_version"

# kwok ships no built-in lifecycle: without Stage objects it refuses to start. Use the same default
# stages kwokctl uses (fast node init, heartbeat with lease, fast pod ready/complete/delete), taken
# from the kwok module of the same version.
stages="$bin/kwok-stages.yaml"
if [ ! -s "$stages" ]; then
  kwok_dir=$(cd / && go mod download -json "sigs.k8s.io/kwok@$kwok_version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  s="$kwok_dir/kustomize/stage"
  for f in "$s/node/fast/node-initialize.yaml" "$s/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml" \
    "$s/pod/fast/pod-ready.yaml" "$s/pod/fast/pod-complete.yaml" "$s/pod/fast/pod-delete.yaml"; do
    echo "---"; cat "$f"
  done >"$stages.tmp"
  mv "$stages.tmp" "$stages"
fi

# The Prometheus Operator's CRDs, so the chart's ServiceMonitor, PodMonitor and PrometheusRule are
# applied to the test apiserver for real. Its Go module carries them.
monitoring="$bin/../monitoring-crds"
if [ ! -s "$monitoring/monitoring.coreos.com_prometheusrules.yaml" ]; then
  po_dir=$(cd / && go mod download -json "github.com/prometheus-operator/prometheus-operator@$prometheus_operator_version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  mkdir -p "$monitoring"
  for kind in servicemonitors podmonitors prometheusrules; do
    cp "$po_dir/example/prometheus-operator-crd/monitoring.coreos.com_$kind.yaml" "$monitoring/"
  done
  chmod -R u+w "$monitoring"
fi

"$bin/kube-apiserver" --version >&2
echo "$bin"
