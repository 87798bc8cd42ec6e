#!/usr/bin/env python3
"""Accuracy of a model directory on a labelled TSV, with onnxruntime (CPU) and `tokenizers`.

A quick check for the files hack/model/quantize.py writes. It reads texts the way the runtime
does: tokenizer.json, truncation to max_position_embeddings, padding to the longest row of each
batch with pad_token_id. The runtime's own HTTP API stays the authoritative measure (see
test/integration/model-tooling.test.ts).

DATA_TSV has a header line and rows `sentence<TAB>label`, label being the class index.
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

FILES = {"none": "model.onnx", "int8": "model_quantized.onnx", "fp16": "model_fp16.onnx"}


def read_tsv(path: Path) -> tuple[list[str], list[int]]:
    texts, labels = [], []
    for line in path.read_text(encoding="utf-8").splitlines()[1:]:
        if line:
            text, label = line.rsplit("\t", 1)
            texts.append(text)
            labels.append(int(label))
    return texts, labels


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model_dir", type=Path)
    parser.add_argument("data_tsv", type=Path)
    parser.add_argument(
        "--variant", choices=FILES, default="none", help="which onnx/ file to run (default: none = fp32)"
    )
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()

    config = json.loads((args.model_dir / "config.json").read_text(encoding="utf-8"))
    tokenizer = Tokenizer.from_file(str(args.model_dir / "tokenizer.json"))
    tokenizer.enable_truncation(config["max_position_embeddings"])
    tokenizer.enable_padding(pad_id=config.get("pad_token_id") or 0)
    session = ort.InferenceSession(args.model_dir / "onnx" / FILES[args.variant], providers=["CPUExecutionProvider"])
    input_names = {i.name for i in session.get_inputs()}

    texts, labels = read_tsv(args.data_tsv)
    predicted = []
    for start in range(0, len(texts), args.batch_size):
        encodings = tokenizer.encode_batch(texts[start : start + args.batch_size])
        feeds = {
            "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
        }
        (logits,) = session.run(["logits"], {name: feeds[name] for name in input_names})
        predicted.extend(np.asarray(logits, dtype=np.float32).argmax(axis=-1).tolist())

    correct = sum(p == label for p, label in zip(predicted, labels, strict=True))
    print(f"{args.variant} accuracy {correct / len(labels):.4f} ({correct}/{len(labels)}) on {args.data_tsv}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
