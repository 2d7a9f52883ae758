"""Where one served request spends its time before its first token: timestamps along the gateway's path, one
request at a time, over a stand-in upstream in its own process that answers at once (ttft_relay.py's, no
delay), so what is left is the gateway's own work and its thread hops. Prints each stage's median time since
the client sent the request, and the time straight to the upstream for comparison.

    python benchmarks/request_path.py --n 100
    PYTHONPATH=/path/to/other/src python benchmarks/request_path.py --n 100    # another tree
"""

from __future__ import annotations

import argparse
import collections
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

from brevity.engines import openai as openai_engine
from brevity.serve import app as serve_app
from brevity.serve import gateway as serve_gateway
from brevity.serve import scheduler as serve_scheduler
from brevity.serve import stream as serve_stream
from brevity.serve.background import BackgroundServer
from brevity.serve.config import ModelConfig, ServeConfig
from brevity.tasks import load_problems

STAGES: dict[str, float] = {}


def mark(stage: str) -> None:
    STAGES.setdefault(stage, time.perf_counter())


def stamp(owner, name: str, stage: str) -> None:
    """Mark `stage` when `owner.name` is first called during a request."""
    f = getattr(owner, name)

    def wrapped(*a, **kw):
        mark(stage)
        return f(*a, **kw)

    setattr(owner, name, wrapped)


def instrument() -> None:
    counter = serve_app.RequestCounter.__call__

    async def entered(self, scope, receive, send):
        mark("1 in the ASGI app")
        return await counter(self, scope, receive, send)

    serve_app.RequestCounter.__call__ = entered
    stamp(serve_gateway.Gateway, "plan", "2 in the handler (body parsed)")
    stamp(serve_scheduler.Scheduler, "submit", "3 submitted (rendered, counted)")
    stamp(serve_scheduler.Scheduler, "_solve", "4 on the method's thread")
    stamp(openai_engine.OpenAIEngine, "_post", "5 upstream call made")
    stamp(openai_engine._Relay, "_merge", "6 upstream's first chunk in")
    stamp(serve_stream.ResponseStream, "write", "7 written to the stream")


def upstream() -> tuple[subprocess.Popen, str]:
    here = Path(__file__).parent
    code = (f"import sys, time; sys.path.insert(0, {str(here)!r}); from ttft_relay import upstream; "
            "s = upstream(4, 0.0); print(s.server_address[1], flush=True); time.sleep(10 ** 6)")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    return proc, f"http://127.0.0.1:{proc.stdout.readline().strip()}/v1"


def first_chunk(http: httpx.Client, url: str, body: dict) -> None:
    with http.stream("POST", url, json=body) as r:
        for line in r.iter_lines():
            if line.startswith("data: {"):
                mark("8 first chunk at the client")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100, help="arith test questions, each asked twice")
    args = ap.parse_args()
    if args.n <= 0:
        ap.error("--n must be positive")
    instrument()
    proc, url = upstream()
    cfg = ServeConfig(models={"tiny-lrm": ModelConfig("tiny-lrm", "tiny-lrm", backend="openai", url=url,
                                                      upstream_model="tiny-lrm")})
    gw = serve_gateway.Gateway(cfg)
    gw.start()
    questions = [p.question for p in load_problems("arith", "test", n=args.n)] * 2
    rows, direct = collections.defaultdict(list), []
    try:
        with BackgroundServer(cfg, gw) as base, httpx.Client(timeout=60) as http:
            for q in questions:
                STAGES.clear()
                t0 = time.perf_counter()
                first_chunk(http, f"{base}/v1/chat/completions", {
                    "model": "tiny-lrm", "stream": True, "messages": [{"role": "user", "content": q}],
                    "max_tokens": 1024, "temperature": 0})
                for stage, t in STAGES.items():
                    rows[stage].append(1000 * (t - t0))
                STAGES.clear()
                t0 = time.perf_counter()
                first_chunk(http, f"{url}/completions", {"model": "tiny-lrm", "stream": True, "prompt": q})
                direct.append(1000 * (STAGES["8 first chunk at the client"] - t0))
    finally:
        gw.close()
        proc.kill()
    print(f"{len(questions)} requests, one at a time; medians in ms since the client sent the request")
    print("| stage | ms | step |\n|---|---|---|")
    prev = 0.0
    for stage in sorted(rows):
        m = statistics.median(rows[stage])
        print(f"| {stage[2:]} | {m:.2f} | +{m - prev:.2f} |")
        prev = m
    print(f"| the upstream alone: first chunk at the client | {statistics.median(direct):.2f} | |")


if __name__ == "__main__":
    main()
