#!/usr/bin/env python3
"""Exports a local Hugging Face sequence classifier to the model directory the runtime loads.

CHECKPOINT is a directory from `save_pretrained` of an AutoModelForSequenceClassification and its
(fast) tokenizer, e.g. a fine-tuned DistilBERT or BERT. OUTPUT receives:

  config.json             id2label, max_position_embeddings, model_type (from the checkpoint)
  tokenizer.json          the fast tokenizer the runtime reads
  tokenizer_config.json
  onnx/model.onnx         fp32; inputs input_ids, attention_mask[, token_type_ids] int64
                          [batch, sequence] with dynamic axes; output logits [batch, classes]

with optimum's ONNX exporter (task text-classification), which also checks the graph's logits
against PyTorch's. Nothing is downloaded: the checkpoint must be complete on disk. Then run
quantize.py OUTPUT --int8 --fp16 for the variants. Needs `hack/model/setup.sh --export`.
"""

import argparse
import json
import re
import shutil
import sys
import tempfile
from pathlib import Path

from optimum.exporters.onnx import main_export

from quantize import check

LAYOUT = ["config.json", "tokenizer.json", "tokenizer_config.json"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "checkpoint", type=Path, help="Hugging Face checkpoint directory (config.json, weights, tokenizer)"
    )
    parser.add_argument("output", type=Path, help="model directory to write (created; existing files are replaced)")
    parser.add_argument("--opset", type=int, help="ONNX opset (default: optimum's choice for the architecture)")
    args = parser.parse_args()
    if not (args.checkpoint / "config.json").is_file():
        parser.error(f"{args.checkpoint} has no config.json: pass a save_pretrained directory")

    with tempfile.TemporaryDirectory() as work:
        main_export(
            str(args.checkpoint),
            output=work,
            task="text-classification",
            opset=args.opset,
            local_files_only=True,
            library_name="transformers",
        )
        missing = [name for name in LAYOUT + ["model.onnx"] if not (Path(work) / name).is_file()]
        if missing:
            sys.exit(
                f"export did not produce {', '.join(missing)} (the runtime needs a fast tokenizer's tokenizer.json)"
            )
        (args.output / "onnx").mkdir(parents=True, exist_ok=True)
        for name in LAYOUT:
            shutil.copyfile(Path(work) / name, args.output / name)
        shutil.copyfile(Path(work) / "model.onnx", args.output / "onnx" / "model.onnx")

    config = json.loads((args.output / "config.json").read_text(encoding="utf-8"))
    labels = [config["id2label"][key] for key in sorted(config["id2label"], key=int)]
    print(check(args.output / "onnx" / "model.onnx"))
    limit = config["max_position_embeddings"]
    print(f"model_type {config['model_type']}, max_position_embeddings {limit}, labels {labels}")
    if all(re.fullmatch(r"LABEL_\d+", label) for label in labels):
        print(
            "note: id2label holds default names; set it in the checkpoint's config.json or the runtime's model.labels"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
