"""Probe overhead of `deer` and `dynasor` on the hf engine: the share of wall time spent in probes, with
probes keeping their KV in the prefix cache (as before 2026-11-27 evening) and without
(`Request.keep_cache=False`, the default for probes now). Rounds alternate; medians are printed.

    python benchmarks/probe_overhead.py --n 256 --repeats 3
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time

import torch

from brevity.engines.hf import HFEngine
from brevity.methods import build_method
from brevity.tasks import load_problems
from brevity.zoo import resolve_model


def run(engine: HFEngine, method: str, problems, keep_probe_kv: bool) -> tuple[float, float]:
    """(probe share of wall time, wall seconds) for one cold-cache pass, in chunks of the engine's batch."""
    complete = HFEngine.complete
    if keep_probe_kv:  # the old behaviour: every request stores its KV
        engine.complete = lambda reqs, progress=None: complete(
            engine, [dataclasses.replace(r, keep_cache=True) for r in reqs], progress)
    engine.cache.clear()
    m = build_method(method)
    t0 = time.perf_counter()
    sols = []
    for i in range(0, len(problems), engine.batch_size):
        sols += m.run(problems[i:i + engine.batch_size], engine)
    wall = time.perf_counter() - t0
    engine.__dict__.pop("complete", None)
    return sum(s.probe_seconds for s in sols) / wall, wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--methods", default="dynasor,deer")
    args = ap.parse_args()
    torch.set_num_threads(2)
    engine = HFEngine(resolve_model("tiny-lrm"), batch_size=64)
    problems = load_problems("arith", split="validation", n=args.n)
    for method in args.methods.split(","):
        run(engine, method, problems[:64], False)  # warm-up
        shares: dict[bool, list[float]] = {True: [], False: []}
        for _ in range(args.repeats):
            for keep in (True, False):
                shares[keep].append(run(engine, method, problems, keep)[0])
        for keep in (True, False):
            print(f"{method:8s} probes {'store' if keep else 'skip '} their KV: probe share "
                  f"{' '.join(f'{x:.3f}' for x in shares[keep])}  median {statistics.median(shares[keep]):.3f}",
                  flush=True)


if __name__ == "__main__":
    main()
