"""What the gateway costs in front of vLLM, measured with vLLM's own client (`vllm bench serve`).

Three servers of `tiny-lrm`, all started before timing and all ready (GET /health, every alias calibrated):
plain `vllm serve`, `brevity serve --backend vllm` (the gateway and the vLLM it starts) and `brevity serve` on
the in-process `hf` engine. Every engine runs on CPU core 0; the gateway process and the benchmark client run
on core 1, so the gateway's own work never takes time from the engine it fronts, as on a GPU host. Each round
benchmarks the three in turn (interleaved rounds); the table gives each one's median over rounds.

    python benchmarks/gateway_overhead.py --n 64 --max-tokens 1024 --concurrency 8 --rounds 3
    python benchmarks/gateway_overhead.py --dataset random --input-len 64 --max-tokens 256 --n 64 --concurrency 8

`--budget N` compares thinking budgets instead: the gateway over vLLM enforcing `thinking_budget: N` (think up to
N tokens, the format's closing phrase among them, close, answer) and the in-process `hf` gateway, against plain
vLLM started with its reasoning parser enforcing its own `thinking_token_budget`. vLLM forces its closing phrase
after its budget, so for equal work it gets N minus the phrase's tokens, the mapping `budget:N` itself uses
with `native=true` (`Budget.room`); the table's output tokens show the work is equal.

`--dataset arith` sends the arith test questions (each answer ends where the model stops); `--dataset random`
is `vllm bench serve`'s default random dataset (random prompts of `--input-len` tokens, `ignore_eos`, so every
output is exactly `--max-tokens` long on every server: short requests, where a per-request cost shows).
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
from types import SimpleNamespace

from brevity.engines.vllm import DEFAULT_VENV, free_port, start_vllm, stop, wait_healthy
from brevity.formats import load_format
from brevity.methods import build_method
from brevity.serve.upstream import native_budget_args
from brevity.tasks import load_problems
from brevity.zoo import resolve_model

ENGINE_CORE, FRONT_CORE = 0, 1


def pin_tree(pid: int, cores: set[int]) -> None:
    """Pin every thread of `pid` (not its children) to `cores`."""
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            os.sched_setaffinity(int(tid), cores)
        except ProcessLookupError:
            pass


def descendants(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-e", "-o", "pid=,ppid="], capture_output=True, text=True).stdout.split("\n")
    children: dict[int, list[int]] = {}
    for line in out:
        if line.strip():
            p, pp = map(int, line.split())
            children.setdefault(pp, []).append(p)
    todo, seen = [pid], []
    while todo:
        p = todo.pop()
        seen.append(p)
        todo += children.get(p, [])
    return seen


def cores_of(pid: int) -> str:
    """Each process of `pid`'s tree with the cores its threads may run on."""
    parts = []
    for p in descendants(pid):
        try:
            name = open(f"/proc/{p}/comm").read().strip()
            allowed = sorted({c for t in os.listdir(f"/proc/{p}/task") for c in os.sched_getaffinity(int(t))})
        except (FileNotFoundError, ProcessLookupError):
            continue
        parts.append(f"{name}[{p}]:{','.join(map(str, allowed))}")
    return " ".join(parts)


def bench_once(venv: Path, url: str, tokenizer: str, data: Path, args, out_dir: Path, name: str,
               plain: bool = False) -> dict:
    """One `vllm bench serve` run; `plain`: the target is vLLM itself (its own budget field)."""
    if args.dataset == "random":
        dataset = ["--dataset-name", "random", "--random-input-len", str(args.input_len), "--random-output-len",
                   str(args.max_tokens), "--ignore-eos"]
    else:
        dataset = ["--dataset-name", "custom", "--dataset-path", str(data), "--skip-chat-template",
                   "--custom-output-len", str(args.max_tokens)]
    cmd = ["taskset", "-c", str(FRONT_CORE), str(venv / "bin" / "vllm"), "bench", "serve",
           "--backend", "openai-chat", "--base-url", url, "--endpoint", "/v1/chat/completions",
           "--model", "tiny-lrm", "--tokenizer", tokenizer, *dataset, "--num-prompts", str(args.n),
           "--max-concurrency", str(args.concurrency),
           *(["--extra-body", json.dumps({"thinking_token_budget": args.native_budget} if plain else
                                         {"thinking_budget": args.budget})] if args.budget else []),
           "--temperature", "0", "--seed", "0", "--disable-shuffle", "--disable-tqdm", "--save-result",
           "--result-dir", str(out_dir), "--result-filename", f"{name}.json"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    run = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if run.returncode:
        raise SystemExit(f"vllm bench serve failed on {url}:\n{(run.stdout + run.stderr)[-3000:]}")
    return json.loads((out_dir / f"{name}.json").read_text())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=64)
    ap.add_argument("--dataset", choices=["arith", "random"], default="arith")
    ap.add_argument("--input-len", type=int, default=64, help="random dataset: prompt tokens")
    ap.add_argument("--budget", type=int, default=0, help="compare thinking budgets of this many tokens")
    ap.add_argument("--max-tokens", type=int, default=1024)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--venv", type=Path, default=DEFAULT_VENV)
    ap.add_argument("--out", type=Path, default=Path("brevity-runs/gateway-overhead"))
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    lrm = str(resolve_model("tiny-lrm"))
    if args.budget:  # plain vLLM's budget for the same thinking as the gateway's budget:N
        fmt = load_format(lrm)
        args.native_budget = build_method(f"budget:{args.budget}").room(SimpleNamespace(format=fmt))
    data = args.out / "arith-test.jsonl"
    with data.open("w") as f:
        for p in load_problems("arith", split="test", n=args.n):
            f.write(json.dumps({"prompt": p.question}) + "\n")
    # One OpenMP thread per engine, bound to the engine core (vLLM's CPU backend binds its own threads).
    os.environ.update({"VLLM_CPU_OMP_THREADS_BIND": str(ENGINE_CORE), "OMP_NUM_THREADS": "1"})
    procs: dict[str, subprocess.Popen] = {}
    urls: dict[str, str] = {}
    logs = Path(tempfile.mkdtemp(prefix="gateway-overhead-"))
    try:
        os.sched_setaffinity(0, {ENGINE_CORE})  # children started now inherit the engine core
        native = native_budget_args(load_format(lrm)) if args.budget else {}
        procs["vllm serve"], v1 = start_vllm(lrm, "tiny-lrm", args.venv, logs / "vllm.log", **native)
        urls["vllm serve"] = v1.removesuffix("/v1")
        for name, extra in (("brevity serve --backend vllm", ["--backend", "vllm"]), ("brevity serve (hf)", [])):
            port = free_port()
            log = open(logs / f"{name.split()[-1].strip('()')}.log", "w")
            procs[name] = subprocess.Popen(["brevity", "serve", "--model", "tiny-lrm", "--port", str(port), *extra],
                                           stdout=log, stderr=subprocess.STDOUT)
            urls[name] = wait_healthy(procs[name], port, 900, name, log.name, ready=True)
        os.sched_setaffinity(0, {FRONT_CORE})
        pin_tree(procs["brevity serve --backend vllm"].pid, {FRONT_CORE})  # the gateway itself; its vLLM stays
        placement = {name: cores_of(p.pid) for name, p in procs.items()}
        results: dict[str, list[dict]] = {name: [] for name in procs}
        for r in range(args.rounds):
            for name in procs:
                t0 = time.perf_counter()
                tag = f"{name.split()[-1].strip('()')}-{r}"
                res = bench_once(args.venv, urls[name], lrm, data, args, args.out, tag, plain=name == "vllm serve")
                results[name].append(res)
                print(f"round {r + 1} {name}: {res['request_throughput']:.3f} req/s, median TTFT "
                      f"{res['median_ttft_ms']:.0f} ms, {res['completed']}/{args.n} ok, "
                      f"{time.perf_counter() - t0:.0f} s", flush=True)
    finally:
        for name, p in procs.items():
            if name == "vllm serve":
                stop(p)
            else:
                p.terminate()
                p.wait(60)
    report(args, results, placement)


def report(args, results: dict[str, list[dict]], placement: dict[str, str]) -> None:
    keys = ("request_throughput", "output_throughput", "median_ttft_ms", "median_tpot_ms", "total_output_tokens")
    med = {name: {k: statistics.median(r[k] for r in rs) for k in keys} for name, rs in results.items()}
    base = med["vllm serve"]
    what = f"{args.n} arith test prompts" if args.dataset == "arith" else \
        f"{args.n} random prompts of {args.input_len} tokens, ignore_eos"
    if args.budget:
        what += (f", thinking budget {args.budget} (gateways: thinking_budget {args.budget}; vLLM: its own "
                 f"thinking_token_budget {args.native_budget}, then its {args.budget - args.native_budget}-token "
                 "closing phrase)")
    lines = [f"# {time.strftime('%Y-%m-%d')}: vllm bench serve, {what}, max_tokens "
             f"{args.max_tokens}, concurrency {args.concurrency}, greedy, median of {args.rounds} interleaved rounds",
             f"# engines on core {ENGINE_CORE}; gateway and client on core {FRONT_CORE}; load average before: "
             f"{open('/proc/loadavg').read().split()[:3]}", "",
             "| server | req/s | vs vllm | output tok/s | median TTFT ms | vs vllm | median TPOT ms | output tokens |",
             "|---|---|---|---|---|---|---|---|"]
    # TTFT differences are reported in ms beside the ratios
    for name, m in med.items():
        rps = m["request_throughput"]
        lines.append(f"| {name} | {rps:.3f} | {rps / base['request_throughput']:.2f}x | "
                     f"{m['output_throughput']:.0f} | {m['median_ttft_ms']:.0f} | "
                     f"{m['median_ttft_ms'] - base['median_ttft_ms']:+.0f} ms | {m['median_tpot_ms']:.1f} | "
                     f"{m['total_output_tokens']:.0f} |")
    lines += ["", "rounds (req/s, median TTFT ms):"]
    lines += [f"  {name}: " + ", ".join(f"{r['request_throughput']:.3f}/{r['median_ttft_ms']:.0f}" for r in rs)
              for name, rs in results.items()]
    lines += ["", "where each process ran (name[pid]:cores):"] + [f"  {n}: {p}" for n, p in placement.items()]
    text = "\n".join(lines)
    print(text)
    (args.out / "table.md").write_text(text + "\n")


if __name__ == "__main__":
    main()
