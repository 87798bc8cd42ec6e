"""Drives the runtime with the real Triton/KServe V2 HTTP client, as a user's service would.

Usage: v2_client.py HOST:PORT MODEL TEXT...
With V2_BEARER_TOKEN set, every call sends "Authorization: Bearer <token>" (the runtime's auth.tokenFile).
Prints one JSON object with what the client saw, for the calling test to assert on.
"""
import json
import os
import sys

import numpy as np
import tritonclient.http as httpclient


TOKEN = os.environ.get("V2_BEARER_TOKEN")


def headers():
    # A fresh dict per call: tritonclient writes Inference-Header-Content-Length into the one it is given.
    return {"Authorization": f"Bearer {TOKEN}"} if TOKEN else None


def infer(client, model, texts, binary):
    data = np.array([t.encode("utf-8") for t in texts], dtype=np.object_)
    text_input = httpclient.InferInput("text", [len(texts)], "BYTES")
    text_input.set_data_from_numpy(data, binary_data=binary)
    outputs = [
        httpclient.InferRequestedOutput("label", binary_data=binary),
        httpclient.InferRequestedOutput("probability", binary_data=binary),
        httpclient.InferRequestedOutput("probabilities", binary_data=binary),
    ]
    result = client.infer(model, inputs=[text_input], outputs=outputs, request_id="req-1", headers=headers())
    return {
        "id": result.get_response()["id"],
        # BYTES come back as bytes from binary outputs and as str from JSON ones.
        "labels": [label.decode("utf-8") if isinstance(label, bytes) else label for label in result.as_numpy("label")],
        "probability": result.as_numpy("probability").tolist(),
        "probabilities_shape": list(result.as_numpy("probabilities").shape),
    }


def main():
    url, model, texts = sys.argv[1], sys.argv[2], sys.argv[3:]
    client = httpclient.InferenceServerClient(url=url)
    metadata = client.get_model_metadata(model, headers=headers())
    report = {
        "live": client.is_server_live(),
        "ready": client.is_server_ready(),
        "model_ready": client.is_model_ready(model, headers=headers()),
        "metadata_inputs": metadata["inputs"],
        "binary": infer(client, model, texts, True),
        "json": infer(client, model, texts, False),
    }
    # A request without explicit outputs: the client asks for every output in binary form.
    text_input = httpclient.InferInput("text", [1], "BYTES")
    text_input.set_data_from_numpy(np.array([texts[0].encode("utf-8")], dtype=np.object_))
    default = client.infer(model, inputs=[text_input], headers=headers())
    report["default_outputs"] = sorted(output["name"] for output in default.get_response()["outputs"])
    try:
        client.infer("no-such-model", inputs=[text_input], headers=headers())
        report["unknown_model_error"] = None
    except Exception as error:  # the client raises InferenceServerException with the server's message
        report["unknown_model_error"] = str(error)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
