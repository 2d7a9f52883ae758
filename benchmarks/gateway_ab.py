"""Two versions of the gateway over one vLLM: the CPU each spends per streamed token, and their latency.

Why: a change to the gateway's hot path (the relay of each upstream token to the client) is measured best by
the gateway's own CPU time, which the shared cores' noise leaves nearly alone, beside vLLM's own client
numbers. One plain vLLM serves `tiny-lrm` on core 0; each gateway (`brevity serve --backend openai` over that
vLLM, started from the source tree given) runs on core 1 with the client, as in gateway_overhead.py. Each round
runs `vllm bench serve` on the arith questions against plain vLLM and then each gateway.

    git worktree add /tmp/before HEAD~1
    python benchmarks/gateway_ab.py before=/tmp/before/src after=src --rounds 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import time
from pathlib import Path
from types import SimpleNamespace

from gateway_overhead import ENGINE_CORE, FRONT_CORE, bench_once, pin_tree

from brevity.engines.vllm import DEFAULT_VENV, free_port, start_vllm, stop, wait_healthy
from brevity.tasks import load_problems
from brevity.zoo import resolve_model


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of one process (all its threads)."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("trees", nargs="+", help="NAME=SRC_DIR: a gateway started with PYTHONPATH=SRC_DIR")
    ap.add_argument("--n", type=int, default=64)
    ap.add_argument("--max-tokens", type=int, default=1024)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", type=Path, default=Path("brevity-runs/gateway-ab"))
    args = ap.parse_args()
    trees = dict(t.split("=", 1) for t in args.trees)
    args.out.mkdir(parents=True, exist_ok=True)
    lrm = str(resolve_model("tiny-lrm"))
    data = args.out / "arith-test.jsonl"
    with data.open("w") as f:
        for p in load_problems("arith", split="test", n=args.n):
            f.write(json.dumps({"prompt": p.question}) + "\n")
    os.environ.update({"VLLM_CPU_OMP_THREADS_BIND": str(ENGINE_CORE), "OMP_NUM_THREADS": "1"})
    os.sched_setaffinity(0, {ENGINE_CORE})
    vllm, v1 = start_vllm(lrm, "tiny-lrm", DEFAULT_VENV, args.out / "vllm.log")
    os.sched_setaffinity(0, {FRONT_CORE})
    urls, procs = {"vllm serve": v1.removesuffix("/v1")}, {}
    try:
        for name, src in trees.items():
            port = free_port()
            procs[name] = subprocess.Popen(
                ["python", "-m", "brevity.cli", "serve", "--model", "tiny-lrm", "--port", str(port), "--backend",
                 "openai", "--url", v1], env={**os.environ, "PYTHONPATH": str(Path(src).resolve())},
                stdout=open(args.out / f"{name}.log", "w"), stderr=subprocess.STDOUT)
            urls[name] = wait_healthy(procs[name], port, 600, name, ready=True)
            pin_tree(procs[name].pid, {FRONT_CORE})
        bench = SimpleNamespace(dataset="arith", max_tokens=args.max_tokens, n=args.n, concurrency=args.concurrency,
                                budget=0)
        rows: dict[str, list[dict]] = {name: [] for name in urls}
        for r in range(args.rounds):
            for name, url in urls.items():
                pid = procs[name].pid if name in procs else None
                before = cpu_seconds(pid) if pid else 0.0
                res = bench_once(DEFAULT_VENV, url, lrm, data, bench, args.out, f"{name.split()[0]}-{r}",
                                 plain=name == "vllm serve")
                res["gateway_cpu_s"] = cpu_seconds(pid) - before if pid else None
                rows[name].append(res)
                print(f"round {r + 1} {name}: {res['request_throughput']:.3f} req/s, median TTFT "
                      f"{res['median_ttft_ms']:.1f} ms, gateway CPU {res['gateway_cpu_s'] or 0:.1f} s", flush=True)
    finally:
        for p in procs.values():
            p.terminate()
        stop(vllm)
    report(args, rows)


def report(args, rows: dict[str, list[dict]]) -> None:
    base_ttft = statistics.median(x["median_ttft_ms"] for x in rows["vllm serve"])
    base_rps = statistics.median(x["request_throughput"] for x in rows["vllm serve"])
    lines = [f"# {time.strftime('%Y-%m-%d')}: vllm bench serve, {args.n} arith prompts, max_tokens {args.max_tokens}, "
             f"concurrency {args.concurrency}, median of {args.rounds} interleaved rounds; one vLLM on core "
             f"{ENGINE_CORE}, gateways and client on core {FRONT_CORE}", "",
             "| server | req/s | vs vllm | median TTFT ms | vs vllm | gateway CPU s | CPU us per output token |",
             "|---|---|---|---|---|---|---|"]
    for name, xs in rows.items():
        rps = statistics.median(x["request_throughput"] for x in xs)
        ttft = statistics.median(x["median_ttft_ms"] for x in xs)
        cpu = statistics.median(x["gateway_cpu_s"] for x in xs) if xs[0]["gateway_cpu_s"] is not None else None
        tokens = statistics.median(x["total_output_tokens"] for x in xs)
        lines.append(f"| {name} | {rps:.3f} | {rps / base_rps:.2f}x | {ttft:.1f} | {ttft - base_ttft:+.1f} | "
                     + (f"{cpu:.1f} | {cpu / tokens * 1e6:.0f} |" if cpu is not None else "| |"))
    lines += ["", "rounds (req/s, median TTFT ms, gateway CPU s):"]
    lines += [f"  {name}: " + ", ".join(f"{x['request_throughput']:.3f}/{x['median_ttft_ms']:.1f}/"
                                        f"{x['gateway_cpu_s'] or 0:.1f}" for x in xs) for name, xs in rows.items()]
    text = "\n".join(lines)
    print(text)
    (args.out / "table.md").write_text(text + "\n")


if __name__ == "__main__":
    main()
