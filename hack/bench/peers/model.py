"""The same model, tokenizer, truncation and softmax as the runtime, for the peer servers and raw onnxruntime."""
import json
import os

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

# The runtime's default model.maxSequenceLength; like the runtime, capped by the model's positions.
MAX_SEQUENCE_LENGTH = 512


class SentimentModel:
    def __init__(self, model_dir: str, onnx_file: str, intra_op_threads: int):
        with open(os.path.join(model_dir, "config.json")) as f:
            config = json.load(f)
        self.labels = [config["id2label"][str(i)] for i in range(len(config["id2label"]))]
        self.pad_id = config.get("pad_token_id") or 0
        self.tokenizer = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(min(MAX_SEQUENCE_LENGTH, config["max_position_embeddings"]))
        options = ort.SessionOptions()
        options.intra_op_num_threads = intra_op_threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # As the runtime: threads that spin steal the cores HTTP and tokenization need.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.add_session_config_entry("session.inter_op.allow_spinning", "0")
        self.session = ort.InferenceSession(onnx_file, options, providers=["CPUExecutionProvider"])
        self.input_names = {i.name for i in self.session.get_inputs()}

    def classify(self, texts: list) -> list:
        encodings = self.tokenizer.encode_batch(texts)
        rows, columns = len(encodings), max(len(e.ids) for e in encodings)
        ids = np.full((rows, columns), self.pad_id, dtype=np.int64)
        mask = np.zeros((rows, columns), dtype=np.int64)
        types = np.zeros((rows, columns), dtype=np.int64)
        for row, encoding in enumerate(encodings):
            n = len(encoding.ids)
            ids[row, :n] = encoding.ids
            mask[row, :n] = 1
            types[row, :n] = encoding.type_ids
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self.input_names:
            feeds["token_type_ids"] = types
        logits = self.session.run(["logits"], feeds)[0]
        exp = np.exp(logits - logits.max(axis=1, keepdims=True))
        probabilities = exp / exp.sum(axis=1, keepdims=True)
        return [
            {"label": self.labels[int(p.argmax())], "scores": {label: float(p[i]) for i, label in enumerate(self.labels)}}
            for p in probabilities
        ]


def from_env() -> SentimentModel:
    return SentimentModel(os.environ["PEER_MODEL_DIR"], os.environ["PEER_ONNX_FILE"], int(os.environ["PEER_INTRA_OP_THREADS"]))
