"""Served accuracy at a thinking budget against the bench's `budget:B` on the same problems: the gateway
(`brevity serve`, hf or vllm backend) answers N test problems with `thinking_budget` B from 32 concurrent
clients; `budget:B` runs directly on an in-process hf engine, as `brevity bench` runs it. Reports both
accuracies, the paired difference with its 95% bootstrap interval, answer agreement, and the largest
reasoning_tokens seen (it must not pass B).

    python benchmarks/serve_accuracy.py --n 500 --budgets 96,136 --out docs/results/serve_accuracy.json

With `--backend vllm --modes gateway,native` it serves the same problems twice, once with the gateway's own
budget and once with vLLM's native `thinking_token_budget`, and also reports the paired difference of the two.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path

import httpx

from brevity.bench.metrics import paired_bootstrap
from brevity.engines.hf import HFEngine
from brevity.methods import build_method
from brevity.serve.upstream import start_gateway
from brevity.tasks import load_problems
from brevity.tasks.grading import grade_problem
from brevity.zoo import resolve_model


async def ask_all(url: str, model: str, messages: list, budget: int, clients: int) -> list[dict]:
    """`messages`: per problem, the user turn the bench itself renders (the model's format's question, with
    its family's instruction, "Please reason step by step..." for R1 and Qwen), so both sides read one prompt."""
    sem = asyncio.Semaphore(clients)
    async with httpx.AsyncClient(timeout=1200) as http:
        async def one(m):
            async with sem:
                r = await http.post(f"{url}/v1/chat/completions", json={
                    "model": model, "messages": m, "thinking_budget": budget})
                r.raise_for_status()
                return r.json()
        return await asyncio.gather(*(one(m) for m in messages))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--budgets", default="96,136")
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--backend", default="hf", choices=["hf", "vllm"])
    ap.add_argument("--modes", default="gateway", help="comma list of gateway (the gateway's own budget) and "
                    "native (vLLM's thinking_token_budget, vllm backend): serve once per mode")
    ap.add_argument("--model", default="tiny-lrm", help="zoo member or model folder")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    modes = args.modes.split(",")
    if any(m not in ("gateway", "native") for m in modes) or ("native" in modes and args.backend != "vllm"):
        ap.error("--modes takes gateway and/or native; native needs --backend vllm")
    problems = load_problems("arith", split="test", n=args.n)
    budgets = [int(b) for b in args.budgets.split(",")]
    engine = HFEngine(resolve_model(args.model), batch_size=64)
    messages = [engine.format.messages(p.question) for p in problems]
    direct = {b: build_method(f"budget:{b}").run(problems, engine) for b in budgets}
    d_ok = {b: [float(s.correct) for s in direct[b]] for b in budgets}
    rows, served_ok = [], {}
    for mode in modes:
        proc, url = start_gateway(["--model", args.model, "--backend", args.backend, "--timeout", "1200",
                                   *(["--native-budget"] if mode == "native" else [])], timeout_s=600)
        try:
            for b in budgets:
                t0 = time.perf_counter()
                served = asyncio.run(ask_all(url, args.model, messages, b, args.clients))
                wall = time.perf_counter() - t0
                s_ok = served_ok[mode, b] = [float(grade_problem(r["choices"][0]["message"]["content"], p))
                                             for r, p in zip(served, problems)]
                lo, hi = paired_bootstrap(s_ok, d_ok[b])
                reasoning = [r["usage"]["completion_tokens_details"]["reasoning_tokens"] for r in served]
                row = {"model": args.model, "budget": b,
                       "backend": args.backend + ("-native" if mode == "native" else ""), "n": len(problems),
                       "served_accuracy": round(sum(s_ok) / len(s_ok), 4),
                       "bench_accuracy": round(sum(d_ok[b]) / len(d_ok[b]), 4),
                       "difference": round((sum(s_ok) - sum(d_ok[b])) / len(s_ok), 4),
                       "ci95": [round(lo, 4), round(hi, 4)],
                       "same_answer": round(sum(r["choices"][0]["message"]["content"] == s.answer.strip()
                                                for r, s in zip(served, direct[b])) / len(problems), 4),
                       "max_reasoning_tokens": max(reasoning),
                       "mean_reasoning_tokens": round(sum(reasoning) / len(served), 1),
                       "served_wall_s": round(wall, 1)}
                print(json.dumps(row), flush=True)
                rows.append(row)
        finally:
            proc.terminate()
            proc.wait(60)
    if len(modes) == 2:
        for b in budgets:
            a, c = served_ok[modes[1], b], served_ok[modes[0], b]
            lo, hi = paired_bootstrap(a, c)
            row = {"model": args.model, "budget": b, "compare": f"{modes[1]} - {modes[0]}", "n": len(problems),
                   "difference": round((sum(a) - sum(c)) / len(a), 4), "ci95": [round(lo, 4), round(hi, 4)]}
            print(json.dumps(row), flush=True)
            rows.append(row)
    if args.out:
        args.out.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
