"""Decode speed and cache size under each KV-cache policy, in one process so the ratios share one machine state:
a batch of `arith` validation prompts decodes a fixed number of tokens (ignore_eos, so every policy does the same
work), under `full` and each policy; prints tokens/s, its ratio to full, and the peak cache bytes of the batch
(the sum over its sequences of their peak cached tokens, prompt included, times the bytes a token takes).

    python benchmarks/kv_throughput.py --batch 32 --tokens 300 full streaming:budget=64 h2o:budget=64 \
        rkv:budget=64 rpc:budget=64
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from brevity.engines.base import Request, Shaping
from brevity.engines.hf import HFEngine
from brevity.engines.kv_policy import parse_kv_policy
from brevity.methods.control import prompts
from brevity.tasks import load_problems
from brevity.zoo import resolve_model


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("policies", nargs="+")
    ap.add_argument("--model", default="tiny-lrm")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--tokens", type=int, default=300)
    ap.add_argument("--repeats", type=int, default=3, help="timed runs per policy; the median is printed")
    args = ap.parse_args()
    torch.set_num_threads(2)
    engine = HFEngine(resolve_model(args.model), batch_size=args.batch)
    base = prompts(load_problems("arith", "validation", args.batch), engine, steer=False)
    slot = engine._slot_bytes()
    rows = []
    for text in args.policies:
        policy = parse_kv_policy(text)
        times = []
        for _ in range(args.repeats):
            engine.clear_caches()
            reqs = [Request(tuple(b), args.tokens, kv=policy, shaping=Shaping(ignore_eos=True)) for b in base]
            t0 = time.perf_counter()
            out = engine.complete(reqs)
            times.append(time.perf_counter() - t0)
        tokens = sum(len(c.token_ids) for c in out)
        if policy.evicts:
            peak = sum(c.extra["kv"]["peak_cache_bytes"] for c in out)
        else:  # full holds every prompt and generated token (the last token is never run)
            peak = sum((len(b) + len(c.token_ids) - 1) * slot for b, c in zip(base, out))
        rows.append((policy.text(), tokens / statistics.median(times), peak))
    full = next((r[1] for r in rows if r[0] == "full"), None)
    print(f"{'policy':32s} {'tokens/s':>9s} {'x full':>7s} {'peak cache bytes':>17s}")
    for name, speed, peak in rows:
        ratio = f"{speed / full:.2f}" if full else "-"
        print(f"{name:32s} {speed:9.0f} {ratio:>7s} {peak:17,d}")


if __name__ == "__main__":
    main()
