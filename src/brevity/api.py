"""Brevity from Python, for notebooks and scripts: the same bench, methods, engines, formats and grader the CLI
runs, without reaching into the modules behind them.

    import brevity
    result = brevity.benchmark("tiny-lrm", ["cot", "budget:96", "deer"], task="arith", n=50)
    result.rows                      # one summary row per method, as `brevity bench` prints them
    result.records[0]["prediction"]  # every answer, as records.jsonl holds them

`import brevity` stays light: each name loads what it needs on first use.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from brevity.engines.base import Engine
from brevity.jsonl import JsonlStore
from brevity.methods.base import Method
from brevity.methods.solution import Solution
from brevity.tasks import Problem

__all__ = ["BenchResult", "benchmark", "engine", "grade", "method", "resolve_format", "score"]


@dataclass
class BenchResult:
    """What a bench run wrote: `rows` (the summary, one dict per method and model: accuracy, its interval, thinking
    tokens, ...), `records` (one dict per problem and method) and `out` (the run's folder: report, plot,
    records.jsonl)."""

    rows: list[dict]
    records: list[dict]
    out: Path


def benchmark(model: str = "tiny-lrm", methods: Sequence[str] = ("cot",), task: str = "arith", n: int = 200,
          split: str = "test", out: str | Path | None = None, engine: str = "hf", max_tokens: int = 1024,
          latency_n: int = 0, batch_size: int = 32, resume: bool = False, progress: bool = False,
          log_prompts: bool = False, options=None, announce=None, judge: str | None = None,
          kv: Sequence[str] | None = None, **engine_options: Any) -> BenchResult:
    """Run `methods` (specs, e.g. "budget:96" or "cot@tiny-llm") on the first `n` problems of `task`'s `split`,
    as `brevity bench` does (named apart from `brevity.bench`, the bench's own package). `out`: the run's folder
    (default: a new temporary one); `engine`: hf, vllm, openai or llama-cpp, with `engine_options` as
    brevity.bench.engines.EngineOptions takes them (urls, tokenizers, concurrency, ...), or `options`, an
    EngineOptions itself; `announce(model)` is told of each model loaded; `judge`: a model (folder, zoo name
    or server URL) that labels refusals with XSTest's prompt, on the safety tasks (default: the rule judge); `kv`:
    KV-cache policies to cross every method with on the hf engine ("full", "rkv:budget=64", ...)."""

    from brevity.bench.engines import EngineOptions, EnginePool
    from brevity.bench.runner import BenchConfig, run_bench
    from brevity.spec import parse_task
    from brevity.ui import ProgressUI

    folder = Path(out) if out is not None else Path(tempfile.mkdtemp(prefix="brevity-bench-"))
    opts = options or EngineOptions(kind=engine, batch_size=batch_size, **engine_options)
    cfg = BenchConfig(task=parse_task(task), model=model, methods=list(methods), n=n, out=folder, split=split,
                      latency_n=latency_n, batch_size=batch_size, max_tokens=max_tokens, engine=opts.kind,
                      resume=resume, format=opts.reasoning_format, answer_tokens=opts.answer_tokens,
                      log_prompts=log_prompts, judge=judge, kv=list(kv or []))
    pool = EnginePool(opts, default_model=model, announce=announce)
    try:
        rows = run_bench(cfg, pool, ProgressUI(progress))
    finally:
        pool.close()  # stops the servers it started
    path = folder / "records.jsonl"
    records = JsonlStore(path).rows
    return BenchResult(rows=rows, records=records, out=folder)


def method(spec: str) -> Method:
    """A method from its spec ("deer:0.9", "budget:max=96;phrase=..."), every parameter converted and checked;
    `.run(problems, engine)` prepares and runs it (`.solve(problems, ctx)` with a RunContext of your own), and
    `score` grades what it answered."""
    from brevity.methods import build_method

    return build_method(spec)


def engine(kind: str = "hf", model: str = "tiny-lrm", **options: Any) -> Engine:
    """An engine: "hf" (in-process transformers) on a zoo name or a model folder, "openai" on a server
    (`engine("openai", "served-name", base_url="http://host:8000/v1", tokenizer=FOLDER)`), "vllm" or
    "llama-cpp" (a server it starts and stops)."""
    from brevity.engines import make_engine

    if kind in ("hf", "vllm", "llama-cpp"):
        from brevity.zoo import resolve_model

        model = str(resolve_model(model))
    return make_engine(kind, model, **options)


def score(problems: Sequence[Problem], solutions: list[Solution]) -> list[Solution]:
    """Score a method's Solutions against their problems, as the bench does: `correct` and `prediction` from the
    answer text (methods write answers; the task grades them). In place; returns them."""
    from brevity.tasks.grading import score_solutions

    return score_solutions(problems, solutions)


def grade(output: str, gold: str, mode: str = "flexible") -> bool:
    """Whether the answer in `output` equals `gold` (numbers, LaTeX through math-verify); `mode` "strict" takes
    only a stated answer (a box, ####, "the answer is")."""
    from brevity.tasks import grade as grade_answer

    return grade_answer(output, gold, mode=mode)


def resolve_format(model: str, name: str | None = None):
    """The reasoning format of a zoo member or model folder, bound to its tokenizer (from its chat template,
    manifest or `name`): `.spec` holds its markers, `.split(ids)` cuts a completion into thinking and answer."""
    from brevity.formats import load_format
    from brevity.zoo import resolve_model

    return load_format(resolve_model(model), name)
