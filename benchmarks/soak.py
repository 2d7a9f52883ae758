"""Soak test of `brevity serve`: N concurrent clients for M minutes with mixed requests (plain, thinking
budgets, reasoning_effort, DEER early exit with varying thresholds, streamed and not, chat and raw
completions, the route alias when it is ready), sampling the server's resident memory every few seconds.
Reports requests, failures and the memory growth after warm-up: the median RSS over the run's last `--window`
minutes against the median over the first `--window` minutes after warm-up, in percent (RSS saws up and down by
tens of MB as batches come and go, so a single sample at either end measures the saw, not a trend; the single
samples are reported too), and the least-squares slope after warm-up in MB per minute. Warm-up ends at
`--warmup` (a fraction of the run) or when every prefix cache in use is `--cache-full` full (per /metrics),
whichever is later: a cache that is still filling is memory the config allowed, not growth. A cache that
has held nothing yet (a served model the soak sends no request to) is not waited for.

    python benchmarks/soak.py --clients 16 --minutes 30 --out docs/results/soak.json
    python benchmarks/soak.py --url http://127.0.0.1:8000 --pid 1234 --clients 4 --minutes 2

Without --url it starts `brevity serve --model MODEL` (and waits until every alias is ready, so a
calibration does not count as growth); with --url, --pid names the server's process (default: the one
listening on the URL's port).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from collections import Counter
from pathlib import Path
from statistics import median
from urllib.parse import urlparse

import httpx
import psutil

from brevity.bench.metrics import percentile
from brevity.serve.upstream import start_gateway, stop
from brevity.tasks import load_problems

KINDS = ("plain", "budget", "effort_stream", "deer", "deer_threshold", "completion_stream", "completion", "route")


def request(kind: str, question: str, model: str, rng: random.Random, max_tokens: int) -> tuple[str, dict]:
    """The endpoint and body of one request of `kind`."""
    chat = {"model": model, "messages": [{"role": "user", "content": question}], "max_tokens": max_tokens}
    if kind == "plain":
        return "/v1/chat/completions", chat
    if kind == "budget":
        return "/v1/chat/completions", {**chat, "thinking_budget": rng.choice([0, 32, 64, 96, 136])}
    if kind == "effort_stream":
        return "/v1/chat/completions", {**chat, "stream": True, "stream_options": {"include_usage": True},
                                        "reasoning_effort": rng.choice(["none", "low", "medium", "high"])}
    if kind == "deer":
        return "/v1/chat/completions", {**chat, "early_exit": "deer", "stream": rng.random() < 0.5}
    if kind == "deer_threshold":  # a new method spec per request: the gateway's method caches must stay bounded
        return "/v1/chat/completions", {**chat, "early_exit": {"method": "deer",
                                                               "threshold": round(rng.uniform(0.8, 0.99), 3)}}
    if kind == "route":
        return "/v1/chat/completions", {**chat, "model": "route:cascade"}
    return "/v1/completions", {"model": model, "prompt": question, "max_tokens": max_tokens,
                               "stream": kind == "completion_stream"}


async def call(http: httpx.AsyncClient, url: str, path: str, body: dict) -> tuple[bool, str]:
    if not body.get("stream"):
        r = await http.post(url + path, json=body)
        ok = r.status_code == 200 and bool(r.json().get("choices"))
        return ok, str(r.status_code) if ok or r.status_code != 200 else "200-empty"
    async with http.stream("POST", url + path, json=body) as r:
        if r.status_code != 200:
            await r.aread()
            return False, str(r.status_code)
        done, error = False, False
        async for line in r.aiter_lines():
            if line == "data: [DONE]":
                done = True
            elif line.startswith("data: ") and '"error"' in line[:20]:
                error = True
        return done and not error, "200" if done and not error else "stream-error"


async def client(url: str, questions: list[str], args, kinds: list[str], until: float, out: list, k: int) -> None:
    rng = random.Random(k)
    async with httpx.AsyncClient(timeout=args.timeout) as http:
        i = k
        while time.perf_counter() < until:
            kind = kinds[i % len(kinds)]
            path, body = request(kind, questions[rng.randrange(len(questions))], args.model, rng, args.max_tokens)
            t0 = time.perf_counter()
            try:
                ok, status = await call(http, url, path, body)
            except httpx.HTTPError as e:
                ok, status = False, type(e).__name__
            out.append({"kind": kind, "ok": ok, "status": status, "seconds": time.perf_counter() - t0})
            i += 1


async def cache_fill(http: httpx.AsyncClient, url: str) -> float | None:
    """The least full prefix cache's fill (bytes over limit) from /metrics, over the caches holding anything (0.0
    while none does); None with no cache reported."""
    try:
        text = (await http.get(f"{url}/metrics")).text
    except httpx.HTTPError:
        return None
    found: dict[str, dict[str, float]] = {}
    for line in text.splitlines():
        for name in ("brevity_prefix_cache_bytes", "brevity_prefix_cache_limit_bytes"):
            if line.startswith(name + "{"):
                engine = line[line.index("{"):line.index("}") + 1]
                found.setdefault(engine, {})[name] = float(line.rsplit(" ", 1)[1])
    reported = [v for v in found.values() if v.get("brevity_prefix_cache_limit_bytes")]
    fills = [v["brevity_prefix_cache_bytes"] / v["brevity_prefix_cache_limit_bytes"] for v in reported
             if v.get("brevity_prefix_cache_bytes")]
    return round(min(fills), 3) if fills else (0.0 if reported else None)


async def sample(proc: psutil.Process, url: str, every: float, t0: float, until: float, samples: list) -> None:
    async with httpx.AsyncClient(timeout=30) as http:
        while True:
            samples.append({"t_s": round(time.perf_counter() - t0, 1),
                            "rss_mb": round(proc.memory_info().rss / 2**20, 1),
                            "cache_fill": await cache_fill(http, url)})
            if time.perf_counter() >= until:
                return
            await asyncio.sleep(min(every, max(0.0, until - time.perf_counter())))


async def soak(url: str, proc: psutil.Process, args, kinds: list[str]) -> dict:
    questions = [p.question for p in load_problems("arith", split="test", n=512)]
    out: list[dict] = []
    samples: list[dict] = []
    t0 = time.perf_counter()
    until = t0 + args.minutes * 60
    await asyncio.gather(sample(proc, url, args.sample_s, t0, until, samples),
                         *(client(url, questions, args, kinds, until, out, k) for k in range(args.clients)))
    await asyncio.sleep(0)
    samples.append({"t_s": round(time.perf_counter() - t0, 1), "rss_mb": round(proc.memory_info().rss / 2**20, 1)})
    return summarize(out, samples, args, time.perf_counter() - t0)


def summarize(out: list[dict], samples: list[dict], args, wall: float) -> dict:
    full = [s["t_s"] for s in samples if s.get("cache_fill") is not None and s["cache_fill"] >= args.cache_full]
    caches = any(s.get("cache_fill") is not None for s in samples)
    warm_t = max(args.warmup * samples[-1]["t_s"], full[0] if full else 0.0)
    after = [s for s in samples if s["t_s"] >= warm_t]
    at_warm, end = after[0]["rss_mb"], samples[-1]["rss_mb"]
    window_s = args.window * 60
    first = median([s["rss_mb"] for s in after if s["t_s"] <= after[0]["t_s"] + window_s])
    last = median([s["rss_mb"] for s in after if s["t_s"] >= samples[-1]["t_s"] - window_s])
    slope = _slope([s["t_s"] / 60 for s in after], [s["rss_mb"] for s in after])
    lat = [r["seconds"] for r in out if r["ok"]]
    return {
        "clients": args.clients, "minutes": args.minutes, "wall_s": round(wall, 1), "requests": len(out),
        "failed": sum(not r["ok"] for r in out), "statuses": dict(Counter(r["status"] for r in out)),
        "by_kind": {k: {"requests": sum(r["kind"] == k for r in out),
                        "failed": sum(r["kind"] == k and not r["ok"] for r in out)}
                    for k in sorted({r["kind"] for r in out})},
        "latency_p50_s": round(percentile(lat, 0.5), 2) if lat else None,
        "latency_p95_s": round(percentile(lat, 0.95), 2) if lat else None,
        "rss_mb": {"start": samples[0]["rss_mb"], "at_warmup": at_warm, "end": end,
                   "max": max(s["rss_mb"] for s in samples),
                   f"median_first_{args.window:g}_min_after_warmup": first, f"median_last_{args.window:g}_min": last},
        "warmup_fraction": args.warmup,
        "caches_full_at_s": full[0] if full else None if caches else "no cache",
        "warmup_end_s": warm_t,
        "growth_after_warmup_pct": round(100 * (last - first) / first, 2),
        "growth_single_samples_pct": round(100 * (end - at_warm) / at_warm, 2),
        "slope_after_warmup_mb_per_min": round(slope, 2),
        "samples": samples,
    }


def _slope(x: list[float], y: list[float]) -> float:
    """Least-squares slope of y over x (0 with fewer than two points)."""
    if len(x) < 2:
        return 0.0
    mx, my = sum(x) / len(x), sum(y) / len(y)
    var = sum((a - mx) ** 2 for a in x)
    return sum((a - mx) * (b - my) for a, b in zip(x, y)) / var if var else 0.0


def _listening_pid(url: str) -> int:
    port = urlparse(url).port
    for c in psutil.net_connections("tcp"):
        if c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port and c.pid:
            return c.pid
    raise SystemExit(f"no process found listening on port {port}; give --pid")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", default="", help="a running server's base URL (without /v1); default: start one")
    ap.add_argument("--pid", type=int, default=0, help="with --url: the server's process id")
    ap.add_argument("--model", default="tiny-lrm")
    ap.add_argument("--serve-args", default="", help="extra `brevity serve` arguments when starting one")
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--minutes", type=float, default=8)
    ap.add_argument("--sample-s", type=float, default=5, help="seconds between resident-memory samples")
    ap.add_argument("--warmup", type=float, default=0.25, help="fraction of the run before growth is measured")
    ap.add_argument("--cache-full", type=float, default=0.9,
                    help="warm-up lasts at least until every prefix cache is this full")
    ap.add_argument("--window", type=float, default=3, help="minutes of RSS samples each end's median is taken over")
    ap.add_argument("--max-tokens", type=int, default=400)
    ap.add_argument("--timeout", type=float, default=600, help="per-request client timeout, seconds")
    ap.add_argument("--kinds", default=",".join(KINDS), help=f"request kinds to cycle through ({', '.join(KINDS)})")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    if args.window <= 0 or args.minutes <= 0 or args.clients <= 0 or args.sample_s <= 0:
        print("soak.py: --window, --minutes, --clients and --sample-s must be positive", file=sys.stderr)
        raise SystemExit(2)
    kinds = [k for k in args.kinds.split(",") if k]
    if bad := set(kinds) - set(KINDS):
        raise SystemExit(f"unknown kinds {sorted(bad)}; known: {', '.join(KINDS)}")
    proc = None
    url = args.url.rstrip("/")
    if not url:
        proc, url = start_gateway(["--model", args.model, "--max-concurrency", str(max(64, 2 * args.clients)),
                                   "--timeout", str(int(args.timeout)), *args.serve_args.split()], timeout_s=3600)
    try:
        pid = args.pid or (proc.pid if proc else _listening_pid(url))
        aliases = httpx.get(f"{url}/health").json().get("aliases") or {}
        if "route" in kinds and aliases.get("route:cascade") != "ready":
            kinds.remove("route")  # no route alias on this server (or not ready): soak the rest
        result = asyncio.run(soak(url, psutil.Process(pid), args, kinds))
    finally:
        if proc is not None:
            stop(proc)
    result = {"url": url if args.url else f"brevity serve --model {args.model} {args.serve_args}".strip(),
              "kinds": kinds, **result}
    print(json.dumps({k: v for k, v in result.items() if k != "samples"}, indent=1))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
