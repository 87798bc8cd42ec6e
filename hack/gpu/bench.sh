#!/usr/bin/env bash
# The GPU benchmark of issue 6, one script for the device machine (see hack/gpu/README.md).
# Each call first unpacks whatever part of hack/gpu/bundle.sh's .gpu/ it carries into $STASH,
# which outlives the call while the machine stays warm, then runs the steps named:
#   env    what the machine has: GPU, driver, CUDA libraries
#   smoke  the runtime on CUDA with the repo's int8 demo model: provider really used, accuracy
#   bench  fp16 variants, dev-set accuracy fp32/fp16 on CUDA, raw ORT and server throughput on
#          the GPU (fp32, fp16) and on this machine's CPU (fp32); tables at the end, JSON in $OUT
#   processes  the GPU server with 1, 4 and 8 serving processes (server.processes; RUNS=quant:n ...)
# PROVIDER=cpu runs the same steps without a GPU (a dry run of the script itself).
set -euo pipefail
cd "$(dirname "$0")/../.."
STASH=${STASH:-/tmp/sentiment-gpu}
OUT=${OUT:-$STASH/out}
PROVIDER=${PROVIDER:-cuda}
DURATION=${DURATION:-4}
mkdir -p "$STASH" "$OUT"

for part in .gpu/p*; do
  [ -d "$part" ] || continue
  for file in "$part"/*; do
    # A part left in the checkout by an earlier call is unpacked once.
    marker=$STASH/.unpacked-$(basename "$file")-$(stat -c %s "$file")
    [ -f "$marker" ] && continue
    case "$file" in
      *.so.xz) xz -dc "$file" >"$STASH/$(basename "$file" .xz)" ;;
      *.tar.xz) xz -dc "$file" | tar -C "$STASH" -xf - ;;
    esac
    touch "$marker"
    echo "unpacked $file"
  done
done
[ -f "$STASH/libonnxruntime_providers_cuda.so" ] && [ -d "$STASH/node_modules" ] &&
  cp "$STASH/libonnxruntime_providers_cuda.so" "$STASH/node_modules/onnxruntime-node/bin/napi-v6/linux/x64/"

# The CUDA 13 libraries the provider links (cudart, cublas, cublasLt, curand) and cuDNN, wherever
# this image keeps them: the toolkit, the system, or pip's nvidia-* packages.
library_dirs=$(
  { ldconfig -p | awk '/lib(cudart\.so\.13|cublasLt\.so\.13|cublas\.so\.13|curand\.so\.10|cudnn\.so\.9) /{print $NF}'
    find /usr/local/cuda* /usr/lib/x86_64-linux-gnu /opt -name 'lib*.so.*' \( -name 'libcudart.so.13*' -o -name 'libcublas*.so.13*' -o -name 'libcurand.so.10*' -o -name 'libcudnn.so.9*' \) 2>/dev/null || true
  } | xargs -r -n1 dirname | sort -u | paste -sd: -)
export LD_LIBRARY_PATH=${library_dirs}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export CUDA_MODULE_LOADING=LAZY
node=$STASH/node
[ -x "$node" ] || node=node
app=$STASH/dist/hack/bench
models=$STASH/models

common=(--model "$models/sst2-bert-mini-en" --data "$STASH/data/sst2/dev.tsv" --duration "$DURATION" --warmup 1 --tries 1 --quiet-wait 0
  --raw-batches 1,8,32,128 --connections 1,32,128 --server-ratio-target 0.85
  --set batching.maxBatchSize=128 --set batching.maxBatchTokens=32768)
make_fp16() {
  for model in sst2-bert-mini-en chnsenticorp-bert-mini-zh; do
    [ -f "$models/$model/onnx/model_fp16.onnx" ] || python3 hack/model/quantize.py --fp16 "$models/$model"
  done
}
# The call's reply keeps only the end of the output: the tables and ratios once more, together.
summary() {
  echo; echo '=== summary ==='
  [ -f "$OUT/accuracy.jsonl" ] && cat "$OUT/accuracy.jsonl"
  awk '/^command:/{print "\n" $0} /^\| (run|ratio) /{on=1} on&&/^\|/{print} on&&!/^\|/{on=0}' "$OUT/bench.log"
}

for step in "$@"; do
  case "$step" in
    env)
      nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv || true
      echo "CPU: $(nproc) x $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
      echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
      [ -f "$STASH/libonnxruntime_providers_cuda.so" ] && ldd "$STASH/libonnxruntime_providers_cuda.so" | grep -E 'cu|not found' || true
      ;;
    smoke)
      "$node" --version
      smoke() {
        "$node" "$app/accuracy.js" --model models/sst2-bert-mini-en --quantization int8 --data "$STASH/data/sst2/dev.tsv" \
          --set session.executionProvider="$PROVIDER" 2>&1 | tee -a "$OUT/smoke.txt"
        grep -q "execution_provider=\\\\\"$PROVIDER\\\\\"" "$OUT/smoke.txt"
      }
      # onnxruntime-node's core and the wheel's provider come from one release but two builds; if
      # they do not load together, the wheel's own core (same C API) takes the binding's place.
      if ! smoke; then
        [ -f "$STASH/libonnxruntime-wheel.so" ] || exit 1
        echo "retrying with the onnxruntime-gpu wheel's libonnxruntime.so"
        cp "$STASH/libonnxruntime-wheel.so" "$STASH/node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime.so.1"
        smoke
      fi
      ;;
    bench)
      make_fp16
      {
        for quantization in none fp16; do
          for pair in sst2-bert-mini-en:sst2 chnsenticorp-bert-mini-zh:chnsenticorp; do
            "$node" "$app/accuracy.js" --model "$models/${pair%:*}" --quantization $quantization \
              --data "$STASH/data/${pair#*:}/dev.tsv" --set session.executionProvider="$PROVIDER"
          done
        done
      } | tee "$OUT/accuracy.jsonl"
      (nvidia-smi dmon -s um -d 1 >"$OUT/dmon.txt" 2>&1 &) || true
      for quantization in none fp16; do
        "$node" "$app/runtime.js" "${common[@]}" --quantization $quantization --batching-gain-target 10 \
          --set session.executionProvider="$PROVIDER" --out "$OUT/$PROVIDER-$quantization.json" 2>&1 | tee -a "$OUT/bench.log"
      done
      "$node" "$app/runtime.js" "${common[@]}" --quantization none --set session.executionProvider=cpu \
        --out "$OUT/cpu-none.json" 2>&1 | tee -a "$OUT/bench.log"
      pkill -f 'nvidia-smi dmon' || true
      summary
      ;;
    processes)
      # One event loop caps the server near 7k requests/s (first H200 run): the same GPU fed by
      # several serving processes (server.processes), batching on and off, against one process.
      make_fp16
      for run in ${RUNS:-fp16:1 fp16:4 fp16:8 none:4}; do
        quantization=${run%:*} processes=${run#*:}
        "$node" "$app/runtime.js" "${common[@]}" --quantization "$quantization" --batching-gain-target 10 \
          --set session.executionProvider="$PROVIDER" --set server.processes="$processes" \
          --out "$OUT/$PROVIDER-$quantization-p$processes.json" 2>&1 | tee -a "$OUT/bench.log"
      done
      summary
      ;;
    *) echo "unknown step $step (env, smoke, bench, processes)" >&2; exit 2 ;;
  esac
done
