"""Time to first token of one request at a time, straight to `vllm serve` and through `brevity serve` in front
of it, with gateway_overhead.py's placement (vLLM on core 0; the gateway and this client on core 1). Tells the
gateway's own per-request cost from queueing under concurrency. Prints the median of --n requests, for
--passes alternating passes.

    python benchmarks/ttft_alone.py --n 20 --passes 2
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import httpx

from brevity.engines.vllm import DEFAULT_VENV, free_port, start_vllm, stop, wait_healthy
from brevity.tasks import load_problems
from brevity.zoo import resolve_model


def ttft_ms(http: httpx.Client, base: str, question: str) -> float:
    """Milliseconds to the first chunk with a choice (vLLM's and the gateway's first is the role). One client
    for every request, as load clients keep theirs: a fresh one per call builds an SSL context (~20 ms)."""
    t0, first = time.perf_counter(), None
    with http.stream("POST", f"{base}/v1/chat/completions", json={
            "model": "tiny-lrm", "messages": [{"role": "user", "content": question}], "max_tokens": 1024,
            "stream": True, "temperature": 0}) as r:
        for line in r.iter_lines():
            if first is None and line.startswith("data: {") and json.loads(line[6:]).get("choices"):
                first = (time.perf_counter() - t0) * 1000
    return first


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--passes", type=int, default=2)
    args = ap.parse_args()
    lrm, logs = str(resolve_model("tiny-lrm")), Path(tempfile.mkdtemp(prefix="ttft-alone-"))
    os.environ.update({"VLLM_CPU_OMP_THREADS_BIND": "0", "OMP_NUM_THREADS": "1"})
    os.sched_setaffinity(0, {0})
    vllm, v1 = start_vllm(lrm, "tiny-lrm", DEFAULT_VENV, logs / "vllm.log")
    os.sched_setaffinity(0, {1})
    port = free_port()
    gw = subprocess.Popen(["brevity", "serve", "--backend", "openai", "--url", v1, "--model", lrm, "--port", str(port)],
                          stdout=open(logs / "gateway.log", "w"), stderr=subprocess.STDOUT)
    try:
        gateway = wait_healthy(gw, port, 600, "brevity serve", logs / "gateway.log", ready=True)
        questions = [p.question for p in load_problems("arith", split="test", n=args.n)]
        http = httpx.Client(timeout=120)
        for k in range(args.passes):
            for name, base in (("vllm serve", v1.removesuffix("/v1")), ("brevity serve", gateway)):
                med = statistics.median(ttft_ms(http, base, q) for q in questions)
                print(f"pass {k + 1} {name}: median TTFT {med:.1f} ms over {args.n} requests, one at a time")
    finally:
        gw.terminate()
        gw.wait(60)
        stop(vllm)


if __name__ == "__main__":
    main()
