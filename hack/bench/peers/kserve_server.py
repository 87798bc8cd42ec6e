"""KServe's Python model server on the v1 protocol: POST /v1/models/sentiment:predict {"instances": [text]}.

Configured as KServe's docs advise for a CPU-bound model: several uvicorn worker processes
(--workers, one per core) and inference moved off the event loop into the executor, so one
request's inference does not stall the parsing of the next.
"""
import asyncio

import kserve

from model import from_env


class Sentiment(kserve.Model):
    def __init__(self):
        super().__init__("sentiment")
        self.model = None
        self.load()

    def load(self) -> bool:
        self.model = from_env()
        self.ready = True
        return self.ready

    # With --workers > 1 KServe pickles the model into each worker process (spawn); an
    # onnxruntime session cannot be pickled, so each worker opens its own.
    def __getstate__(self):
        return {**self.__dict__, "model": None}

    def __setstate__(self, state):
        self.__dict__.update(state)
        self.load()

    async def predict(self, payload, headers=None, response_headers=None):
        results = await asyncio.get_running_loop().run_in_executor(None, self.model.classify, payload["instances"])
        return {"predictions": results}


if __name__ == "__main__":
    kserve.ModelServer().start([Sentiment()])
