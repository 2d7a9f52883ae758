"""The same bench on two engines: `brevity bench --engine vllm` (a managed `vllm serve`, here vLLM's CPU build; or
`--against llama-cpp`, the model as GGUF on llama.cpp's server) against `--engine hf` (in-process transformers),
paired over the same problems. Per method: both accuracies, their paired difference with a bootstrap 95% interval,
how many predictions agree, mean thinking tokens, and each engine's problems per second (batched runs only; the
vLLM server's start-up is not counted).

    python benchmarks/engine_compare.py --n 500 --out brevity-runs/engine-compare

Writes OUT/hf and OUT/vllm or OUT/llama-cpp (ordinary bench folders) and OUT/compare.json, and prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from statistics import mean

from brevity.bench.metrics import paired_bootstrap


def bench(engine: str, args: argparse.Namespace, out: Path) -> float:
    """One `brevity bench` run (resumable); returns its wall-clock seconds."""
    cmd = [sys.executable, "-m", "brevity.cli", "bench", "--engine", engine, "--model", args.model, "--task",
           args.task, "--methods", args.methods, "--n", str(args.n), "--latency-n", "0", "--out", str(out),
           "--batch-size", str(args.batch_size)]
    if engine != "hf":
        cmd += ["--concurrency", str(args.concurrency)]
    if out.exists():
        cmd.append("--resume")
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, env={**os.environ, "COLUMNS": "160"})
    return time.perf_counter() - t0


def throughput(out: Path) -> dict[str, float]:
    """Problems per second of each method's batched runs (runs.jsonl)."""
    per: dict[str, list[float]] = {}
    for line in (out / "runs.jsonl").read_text().splitlines():
        r = json.loads(line)
        if r["batched"]:
            acc = per.setdefault(r["method"], [0.0, 0.0])
            acc[0] += r["problems"]
            acc[1] += r["seconds"]
    return {m: p / s for m, (p, s) in per.items() if s > 0}


def records(out: Path) -> dict[tuple[str, str], dict]:
    rows = [json.loads(line) for line in (out / "records.jsonl").read_text().splitlines() if line.strip()]
    return {(r["method"], r["problem_id"]): r for r in rows}


def compare(a: Path, b: Path) -> list[dict]:
    ra, rb = records(a), records(b)
    ta, tb = throughput(a), throughput(b)
    rows = []
    for method in dict.fromkeys(m for m, _ in ra):
        ids = sorted(p for m, p in ra if m == method and (m, p) in rb)
        x = [float(ra[method, i]["correct"]) for i in ids]
        y = [float(rb[method, i]["correct"]) for i in ids]
        lo, hi = paired_bootstrap(x, y)
        rows.append({"method": method, "n": len(ids), "acc_a": mean(x), "acc_b": mean(y), "diff": mean(x) - mean(y),
                     "diff_ci95": [lo, hi],
                     "same_prediction": sum(ra[method, i]["prediction"] == rb[method, i]["prediction"] for i in ids),
                     "same_thinking": sum(ra[method, i]["thinking"] == rb[method, i]["thinking"] for i in ids),
                     "thinking_a": mean(ra[method, i]["thinking_tokens"] for i in ids),
                     "thinking_b": mean(rb[method, i]["thinking_tokens"] for i in ids),
                     "problems_per_s_a": ta.get(method), "problems_per_s_b": tb.get(method)})
    return rows


def table(rows: list[dict], a: str, b: str) -> str:
    head = (f"| method | n | {a} acc % | {b} acc % | {a} − {b} (paired 95% CI) | same prediction | same thinking "
            f"| thinking tok {a} / {b} | problems/s {a} | problems/s {b} |")
    lines = [head, "|" + "---|" * 10]
    for r in rows:
        lo, hi = r["diff_ci95"]
        lines.append(f"| {r['method']} | {r['n']} | {100 * r['acc_a']:.1f} | {100 * r['acc_b']:.1f} | "
                     f"{100 * r['diff']:+.1f} ({100 * lo:+.1f} to {100 * hi:+.1f}) | {r['same_prediction']} | "
                     f"{r['same_thinking']} | {r['thinking_a']:.1f} / {r['thinking_b']:.1f} | "
                     f"{r['problems_per_s_a'] or 0:.1f} | {r['problems_per_s_b'] or 0:.1f} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=Path("brevity-runs/engine-compare"))
    ap.add_argument("--model", default="tiny-lrm")
    ap.add_argument("--task", default="arith")
    ap.add_argument("--methods", default="cot,budget:136,deer")
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--batch-size", type=int, default=32, help="the hf engine's batch")
    ap.add_argument("--concurrency", type=int, default=64, help="requests in flight to the server")
    ap.add_argument("--against", default="vllm", choices=["vllm", "llama-cpp"], help="the engine hf is compared with")
    args = ap.parse_args()
    load = os.getloadavg()
    other = args.against
    wall = {engine: bench(engine, args, args.out / engine) for engine in (other, "hf")}
    rows = compare(args.out / other, args.out / "hf")
    result = {"command": " ".join(["python", *sys.argv]), "date": time.strftime("%Y-%m-%d"),
              "load_before": load, "load_after": os.getloadavg(), "wall_s": wall, "rows": rows}
    (args.out / "compare.json").write_text(json.dumps(result, indent=1) + "\n")
    print(table(rows, other, "hf"))
    print(f"wall-clock: {other} {wall[other]:.0f} s (server start included), hf {wall['hf']:.0f} s; "
          f"load average before {load[0]:.2f}, after {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
