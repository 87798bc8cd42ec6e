#!/usr/bin/env python3
"""Writes the int8 and fp16 variants of MODEL_DIR/onnx/model.onnx beside it.

  --int8  onnx/model_quantized.onnx: dynamic quantization with int8 weights on MatMul and on the
          embedding tables (Gather); activations are quantized at run time. The recipe of the
          demo models' model_quantized.onnx, for CPUs.
  --fp16  onnx/model_fp16.onnx: weights and compute in float16, for GPUs. Inputs stay int64 and
          `logits` stays float32 (keep_io_types), so the runtime and its clients see no change.
          onnxruntime's own converter (onnxruntime.transformers.float16): unlike
          onnxconverter-common's it also retypes Cast-to-float32 nodes, which transformers 4.x
          exports put in attention. Constants beyond float16's range are clamped to +-65504.

Each variant is opened in onnxruntime (CPU) before the script reports it.
"""

import argparse
import logging
import sys
from pathlib import Path

import onnx
import onnxruntime as ort
from onnxruntime.quantization import QuantType, quantize_dynamic
from onnxruntime.transformers.float16 import convert_float_to_float16


def write_int8(source: Path, target: Path) -> None:
    # Its advice to pre-process the graph first targets static quantization of vision models.
    logging.getLogger().setLevel(logging.ERROR)
    quantize_dynamic(source, target, op_types_to_quantize=["MatMul", "Gather"], weight_type=QuantType.QInt8)


def write_fp16(source: Path, target: Path) -> None:
    model = convert_float_to_float16(onnx.load(source), keep_io_types=True)
    onnx.save(model, target)


def check(path: Path) -> str:
    """Opens the file in onnxruntime's CPU provider and describes it in one line."""
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    inputs = ", ".join(f"{i.name}:{i.type}" for i in session.get_inputs())
    outputs = ", ".join(f"{o.name}:{o.type}" for o in session.get_outputs())
    return f"{path} {path.stat().st_size / 1e6:.1f} MB inputs [{inputs}] outputs [{outputs}]"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model_dir", type=Path, help="model directory holding onnx/model.onnx")
    parser.add_argument("--int8", action="store_true", help="write onnx/model_quantized.onnx")
    parser.add_argument("--fp16", action="store_true", help="write onnx/model_fp16.onnx")
    args = parser.parse_args()
    if not (args.int8 or args.fp16):
        parser.error("choose at least one of --int8, --fp16")
    source = args.model_dir / "onnx" / "model.onnx"
    if not source.is_file():
        parser.error(f"{source} does not exist")

    variants = [(write_int8, "model_quantized.onnx")] * args.int8 + [(write_fp16, "model_fp16.onnx")] * args.fp16
    for write, name in variants:
        target = source.with_name(name)
        write(source, target)
        print(check(target))
    return 0


if __name__ == "__main__":
    sys.exit(main())
