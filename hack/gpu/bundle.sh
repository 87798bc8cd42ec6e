#!/usr/bin/env bash
# Packs what the GPU benchmark needs for a machine that reaches no network (see hack/gpu/README.md):
# Node 24, the built runtime with its production node_modules, onnxruntime's CUDA provider and
# the fp32 demo models, split into parts that each fit one 64 MiB transfer with the repo.
#   .gpu/p1  the CUDA provider, cubins for one GPU architecture only (prune-fatbin.py)
#   .gpu/p2  node, dist/ + node_modules/ with libonnxruntime_providers_shared.so, dev sets
#   .gpu/p3  fp32 demo models (fp16 variants are made on the GPU machine); the wheel's own
#            libonnxruntime.so, tried when onnxruntime-node's cannot load the wheel's provider
# Usage: hack/dev bash hack/gpu/bundle.sh [--arch 90] [--shared ../shared]
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD
arch=90
shared=../shared
while [ $# -gt 0 ]; do
  case "$1" in
    --arch) arch=$2; shift 2 ;;
    --shared) shared=$2; shift 2 ;;
    *) echo "usage: $0 [--arch SM] [--shared DIR]" >&2; exit 2 ;;
  esac
done
cache=${XDG_CACHE_HOME:-$HOME/.cache}/sentiment-operator/gpu
out=$repo/.gpu
mkdir -p "$cache"
rm -rf "$out" && mkdir -p "$out/p1" "$out/p2" "$out/p3"

# The provider pin (also Dockerfile.runtime's): onnxruntime-gpu of onnxruntime-node's version, which
# PyPI builds for CUDA 13, what the GPU machine (and current CUDA images) carry; onnxruntime-node's
# own installer would fetch CUDA 12 builds from NuGet.
ort_version=$(sed -n 's/^onnxruntime-gpu==\([^ ]*\) .*/\1/p' hack/gpu/onnxruntime-gpu.txt)
wheel=$(ls "$cache"/onnxruntime_gpu-"$ort_version"-*.whl 2>/dev/null | head -1 || true)
if [ -z "$wheel" ]; then
  python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
    --require-hashes -r hack/gpu/onnxruntime-gpu.txt -d "$cache"
  wheel=$(ls "$cache"/onnxruntime_gpu-"$ort_version"-*.whl | head -1)
fi
providers=$cache/providers-$ort_version
if [ ! -f "$providers/libonnxruntime.so.$ort_version" ]; then
  rm -rf "$providers" && mkdir -p "$providers"
  unzip -q -j -o "$wheel" 'onnxruntime/capi/libonnxruntime_providers_cuda.so' 'onnxruntime/capi/libonnxruntime_providers_shared.so' \
    "onnxruntime/capi/libonnxruntime.so.$ort_version" -d "$providers"
fi
echo "CUDA provider $ort_version needs: $(readelf -d "$providers/libonnxruntime_providers_cuda.so" | sed -n 's/.*NEEDED.*\[\(lib\(cu\|cublas\)[^]]*\)\].*/\1/p' | tr '\n' ' ')"
pruned=$cache/providers_cuda-$ort_version-sm$arch.so.xz
if [ ! -f "$pruned" ]; then
  python3 hack/gpu/prune-fatbin.py --keep-arch "$arch" "$providers/libonnxruntime_providers_cuda.so" "$cache/pruned.so"
  xz -6 -T0 -c "$cache/pruned.so" >"$pruned.tmp" && mv "$pruned.tmp" "$pruned" && rm "$cache/pruned.so"
fi
cp "$pruned" "$out/p1/libonnxruntime_providers_cuda.so.xz"

# Production dependencies at the versions installed here, plus the benchmark's load generator.
app=$cache/app
rm -rf "$app" && mkdir -p "$app"
node -e '
  const root = require("./package.json");
  const version = (name) => require(`./node_modules/${name}/package.json`).version;
  const deps = Object.fromEntries([...Object.keys(root.dependencies), "autocannon"].map((name) => [name, version(name)]));
  require("fs").writeFileSync(process.argv[1], JSON.stringify({ name: "sentiment-gpu-bench", private: true, type: "module", dependencies: deps }, null, 2));
' "$app/package.json"
(cd "$app" && ONNXRUNTIME_NODE_INSTALL=skip npm install --silent --no-audit --no-fund --omit=dev)
find "$app/node_modules/onnxruntime-node/bin" -mindepth 3 -maxdepth 3 ! -path '*/linux/x64' -exec rm -rf {} +
find "$app/node_modules/tokenizers" -name '*.node' ! -name '*linux-x64-gnu.node' -delete
cp "$providers/libonnxruntime_providers_shared.so" "$app/node_modules/onnxruntime-node/bin/napi-v6/linux/x64/"
npm run build --silent
cp -r dist "$app/dist"
cp "$(command -v node)" "$cache/node"
tar -C "$cache" -cf - node | xz -9 -T0 >"$out/p2/node.tar.xz"
tar -C "$app" -cf - package.json node_modules dist | xz -9 -T0 >"$out/p2/app.tar.xz"

models=$cache/models
rm -rf "$models" && mkdir -p "$models"
for model in sst2-bert-mini-en chnsenticorp-bert-mini-zh; do
  mkdir -p "$models/$model/onnx"
  cp "$shared/models/$model"/{config.json,tokenizer.json,tokenizer_config.json} "$models/$model/"
  cp "$shared/models/$model/onnx/model.onnx" "$models/$model/onnx/"
done
chmod -R u+w "$models"
tar -C "$cache" -cf - models | xz -6 -T0 >"$out/p3/models.tar.xz"
xz -6 -T0 -c "$providers/libonnxruntime.so.$ort_version" >"$out/p3/libonnxruntime-wheel.so.xz"
data=$cache/data
rm -rf "$data"
for set in sst2 chnsenticorp; do mkdir -p "$data/$set" && cp "$shared/data/$set/dev.tsv" "$data/$set/"; done
chmod -R u+w "$data"
tar -C "$cache" -cf - data | xz -6 -T0 >"$out/p2/data.tar.xz"

du -sh "$out"/p*
