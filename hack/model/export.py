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

LAYOUT = ["config.json", "tokenizer.json", "tokenizer_config.json"]


def label_names(config: dict) -> tuple[list[str], bool]:
    """The class names in index order, and whether they are transformers' placeholders.

    Recent transformers versions leave id2label out of config.json when it holds only the default
    LABEL_i names, so a missing map means num_labels placeholders (2 when that is missing too).
    """
    id2label = config.get("id2label")
    if id2label:
        labels = [str(id2label[key]) for key in sorted(id2label, key=int)]
    else:
        labels = [f"LABEL_{i}" for i in range(int(config.get("num_labels", 2)))]
    return labels, all(re.fullmatch(r"LABEL_\d+", label) for label in labels)


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
    try:
        from optimum.exporters.onnx import main_export

        from quantize import check
    except ModuleNotFoundError as error:
        sys.exit(
            f"export.py needs {error.name}, which is not installed in this Python: "
            "run it with the one `hack/model/setup.sh --export` prints on its last line"
        )

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

    config_path = args.output / "config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    labels, placeholders = label_names(config)
    if "id2label" not in config:
        # The runtime reads class names from id2label; write the placeholders it would otherwise lack.
        config["id2label"] = {str(i): label for i, label in enumerate(labels)}
        config_path.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    print(check(args.output / "onnx" / "model.onnx"))
    limit = config["max_position_embeddings"]
    print(f"model_type {config['model_type']}, max_position_embeddings {limit}, labels {labels}")
    if placeholders:
        print(
            "note: id2label holds default names; set it in the checkpoint's config.json or the runtime's model.labels"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
