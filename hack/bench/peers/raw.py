"""Raw onnxruntime, no HTTP: tokenize + pad + run + softmax back to back, in `procs` processes at once.

Usage: raw.py SENTENCES_FILE SECONDS PROCS:BATCH[,PROCS:BATCH...]
Prints one JSON line per pair: sentences/s summed over the processes and the p50 of one call.
"""
import json
import multiprocessing
import sys
import time

from model import from_env


def loop(batch: int, seconds: float, offset: int, sentences: list, out) -> None:
    model = from_env()
    cursor = offset
    def call():
        nonlocal cursor
        texts = [sentences[(cursor + i) % len(sentences)] for i in range(batch)]
        cursor += batch
        model.classify(texts)
    warm_end = time.perf_counter() + 1
    while time.perf_counter() < warm_end:
        call()
    times = []
    start = time.perf_counter()
    end = start + seconds
    while time.perf_counter() < end:
        t0 = time.perf_counter()
        call()
        times.append(time.perf_counter() - t0)
    out.put((len(times) * batch / (time.perf_counter() - start), sorted(times)[len(times) // 2] * 1000))


if __name__ == "__main__":
    sentences_file, seconds, pairs = sys.argv[1], float(sys.argv[2]), sys.argv[3]
    with open(sentences_file) as f:
        sentences = [line.rstrip("\n") for line in f if line.strip()]
    for pair in pairs.split(","):
        procs, batch = (int(n) for n in pair.split(":"))
        out = multiprocessing.Queue()
        workers = [multiprocessing.Process(target=loop, args=(batch, seconds, i * len(sentences) // procs, sentences, out)) for i in range(procs)]
        for w in workers:
            w.start()
        # A worker that died (bad model path, say) would leave get() waiting for ever.
        results = [out.get(timeout=seconds + 60) for _ in workers]
        for w in workers:
            w.join()
        print(json.dumps({"procs": procs, "batch": batch, "sentencesPerSec": sum(r[0] for r in results), "p50Ms": sorted(r[1] for r in results)[len(results) // 2]}), flush=True)
