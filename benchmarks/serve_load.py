"""Load on `brevity serve` (hf backend, tiny-lrm): K concurrent clients for D seconds each, against the
gateway with batching (--batch-size 32) and one request at a time (--batch-size 1), the two modes
alternating for --repeats rounds. Reports requests, failures, throughput and p50/p95 latency per run, and
the median throughput of each mode and their ratio.

    python benchmarks/serve_load.py --clients 32 --seconds 60 --repeats 3 --out docs/results/serve_load.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path
from statistics import median

import httpx

from brevity.bench.metrics import percentile
from brevity.serve.upstream import start_gateway
from brevity.tasks import load_problems


async def client(url: str, bodies: list[dict], until: float, out: list[dict], k: int) -> None:
    async with httpx.AsyncClient(timeout=600) as http:
        i = k
        while time.perf_counter() < until:
            t0 = time.perf_counter()
            try:
                r = await http.post(f"{url}/v1/chat/completions", json=bodies[i % len(bodies)])
                ok = r.status_code == 200
                tokens = r.json()["usage"]["completion_tokens"] if ok else 0
                status = r.status_code
            except httpx.HTTPError as e:
                ok, tokens, status = False, 0, type(e).__name__
            out.append({"ok": ok, "status": status, "seconds": time.perf_counter() - t0, "tokens": tokens,
                        "end": time.perf_counter()})
            i += 1


async def load(url: str, bodies: list[dict], clients: int, seconds: float) -> dict:
    out: list[dict] = []
    t0 = time.perf_counter()
    until = t0 + seconds
    await asyncio.gather(*(client(url, bodies, until, out, k) for k in range(clients)))
    wall = time.perf_counter() - t0
    lat = [r["seconds"] for r in out if r["ok"]]
    return {"clients": clients, "wall_s": round(wall, 1), "requests": len(out),
            "failed": sum(not r["ok"] for r in out), "statuses": sorted({str(r["status"]) for r in out}),
            "requests_per_s": round(len(lat) / wall, 3),
            "tokens_per_s": round(sum(r["tokens"] for r in out) / wall, 1),
            "latency_p50_s": round(percentile(lat, 0.5), 2), "latency_p95_s": round(percentile(lat, 0.95), 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--method", default="", help='extra request fields as JSON, e.g. \'{"thinking_budget": 136}\'')
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    extra = json.loads(args.method) if args.method else {}
    bodies = [{"model": "tiny-lrm", "messages": [{"role": "user", "content": p.question}], **extra}
              for p in load_problems("arith", split="test", n=256)]
    runs: dict[str, list[dict]] = {"batched": [], "one_at_a_time": []}
    for _ in range(args.repeats):
        for mode, batch in (("batched", 32), ("one_at_a_time", 1)):
            proc, url = start_gateway(["--model", "tiny-lrm", "--batch-size", str(batch), "--max-concurrency",
                                       str(max(64, args.clients)), "--timeout", "600"])
            try:
                runs[mode].append({"batch_size": batch, **asyncio.run(load(url, bodies, args.clients, args.seconds))})
            finally:
                proc.terminate()
                proc.wait(30)
            print(mode, json.dumps(runs[mode][-1]), flush=True)
    results: dict = {"runs": runs}
    for mode in runs:
        results[f"{mode}_median_requests_per_s"] = median(r["requests_per_s"] for r in runs[mode])
    results["throughput_ratio"] = round(results["batched_median_requests_per_s"] /
                                        results["one_at_a_time_median_requests_per_s"], 2)
    results["failed"] = sum(r["failed"] for rs in runs.values() for r in rs)
    results["request"] = {"model": "tiny-lrm", **extra} if extra else {"model": "tiny-lrm", "method": "cot"}
    print("throughput ratio batched / one at a time:", results["throughput_ratio"])
    if args.out:
        args.out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
