"""mosec with dynamic batching: POST /inference {"text": text}.

One inference worker per core (each tokenizes its own batch), dynamic batching as mosec's docs
recommend; the batch limit and wait come from the environment so the benchmark states them.
"""
import os

from mosec import Server, Worker

from model import from_env


class Inference(Worker):
    def __init__(self):
        super().__init__()
        self.model = from_env()

    def forward(self, data: list) -> list:
        return self.model.classify([item["text"] for item in data])


if __name__ == "__main__":
    server = Server()
    server.append_worker(
        Inference,
        num=int(os.environ["PEER_WORKERS"]),
        max_batch_size=int(os.environ["PEER_MAX_BATCH"]),
        max_wait_time=int(os.environ["PEER_MAX_WAIT_MS"]),
    )
    server.run()
