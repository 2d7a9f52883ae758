"""`brevity bench`: every method on the same problems and decoding settings, records flushed as they
are produced, resumable, then summary.json, report.md and pareto.png."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from brevity.bench.engines import EnginePool
from brevity.bench.kv import kv_label, under_policy
from brevity.engines.kv_policy import FULL, parse_kv_list
from brevity.errors import BrevityError
from brevity.identity import record_id
from brevity.jsonl import JsonlStore
from brevity.methods import Method, Solution, build_method, parse_spec
from brevity.methods.base import RunContext
from brevity.tasks import Problem, TaskSpec, load_problems
from brevity.tasks.grading import score_solutions

CHUNK = 64  # problems per batched call; small enough that a continuation finds its prefix still cached


@dataclass
class BenchConfig:
    task: TaskSpec
    model: str
    methods: list[str]
    n: int
    out: Path
    split: str = "test"
    latency_n: int = 50
    batch_size: int = 32
    max_tokens: int = 1024
    engine: str = "hf"
    resume: bool = False
    format: str | None = None  # a named reasoning format for every model (None: each folder's own)
    answer_tokens: int | None = None  # room for the answer after a forced close (None: the format's)
    log_prompts: bool = False  # keep each rendered prompt in its record
    judge: str | None = None  # a model judge of refusals (--judge MODEL_OR_URL); None: the rule judge
    kv: list[str] = field(default_factory=list)  # KV-cache policies each method runs under (--kv); []: full only
    extra: dict = field(default_factory=dict)

    def settings(self) -> dict:
        """What must match for records to be comparable (and for --resume to continue a folder); a model judge
        enters only when given, so default runs keep their settings."""
        return {"task": self.task.as_dict(), "split": self.split, "decoding": self.decoding(), "engine": self.engine,
                **({"judge": self.judge} if self.judge else {})}

    def decoding(self) -> dict:
        """Settings that change what is generated; a format override enters only when given, so default runs
        keep their record ids."""
        extra = {k: v for k, v in (("format", self.format), ("answer_tokens", self.answer_tokens)) if v}
        return {"temperature": 0.0, "max_tokens": self.max_tokens, **extra}


class RecordStore(JsonlStore):
    """records.jsonl (brevity.jsonl: append-and-fsync, a torn last line dropped on open), with the ids it holds."""

    def __init__(self, path: Path):
        super().__init__(path, hint="fix or delete that line, then run again with --resume")
        self.ids = {r["record_id"] for r in self.rows}

    def append(self, rows: list[dict]) -> None:
        super().append(rows)
        self.ids.update(r["record_id"] for r in rows)


class PeakMemory:
    """Samples resident memory (and CUDA peak) in a thread while a method runs."""

    def __init__(self, interval: float = 0.05):
        self.interval, self.peak, self._stop = interval, 0, threading.Event()

    def __enter__(self):
        import psutil

        proc = psutil.Process()
        self.peak = proc.memory_info().rss

        def loop():
            while not self._stop.wait(self.interval):
                self.peak = max(self.peak, proc.memory_info().rss)

        self._t = threading.Thread(target=loop, daemon=True)
        self._t.start()
        try:
            import torch
            if torch.cuda.is_available():
                torch.cuda.reset_peak_memory_stats()
        except ImportError:
            pass
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join()

    @property
    def mb(self) -> float:
        try:
            import torch
            if torch.cuda.is_available():
                return torch.cuda.max_memory_allocated() / 2**20
        except ImportError:
            pass
        return self.peak / 2**20


def prepare_out(cfg: BenchConfig) -> None:
    out = cfg.out
    if out.exists() and not out.is_dir():
        raise BrevityError(f"--out {out} is a file; give a folder (it will be created)")
    out.mkdir(parents=True, exist_ok=True)
    run = out / "run.json"
    if run.exists():
        prev = json.loads(run.read_text())
        if not cfg.resume:
            raise BrevityError(f"{out} already holds a run; pass --resume to continue it or choose another --out")
        if prev != cfg.settings():
            raise BrevityError(f"{out} was run with other settings ({json.dumps(prev)}); use another --out")
    elif (out / "records.jsonl").exists() and not cfg.resume:
        raise BrevityError(f"{out} already holds records; pass --resume or choose another --out")
    run.write_text(json.dumps(cfg.settings(), indent=2) + "\n")


def _check_model_names(models: list[str], engines: EnginePool) -> None:
    """A report row is labelled by its model's name (a folder's name), so two models with one name would merge."""
    seen: dict[str, str] = {}
    for model in models:
        label, where = engines.label(model), engines.where(model)
        if seen.setdefault(label, where) != where:
            raise BrevityError(f"models {seen[label]} and {where} share the name {label!r}, which labels report "
                               "rows; give them distinct folder names")


def context_length(folder: Path) -> int | None:
    """The model's context (max positions), or None when its folder does not say (a bare tokenizer folder)."""
    from transformers import AutoConfig

    try:
        return getattr(AutoConfig.from_pretrained(folder), "max_position_embeddings", None)
    except (OSError, ValueError):
        return None


def too_long(method: Method, fmt, context: int | None, problems: list[Problem]) -> set[str]:
    """Ids of problems whose prompt leaves no room in the model's context: skipped (and counted), not run."""
    from types import SimpleNamespace

    from brevity.methods.control import prompt_text

    if not context:
        return set()
    engine = SimpleNamespace(format=fmt)
    return {p.id for p in problems if len(fmt.encode(prompt_text(p, engine, method.render))) >= context}


def run_bench(cfg: BenchConfig, engines: EnginePool, ui) -> list[dict]:
    """Run every (method, model) on the problems, each model on `engines`; returns the summary rows. `ui` draws
    progress."""
    from brevity.bench.report import summarize_records, write_outputs

    specs = [parse_spec(s) for s in cfg.methods]
    methods: list[tuple[Method, str]] = [(build_method(s), s.model or cfg.model) for s in specs]
    policies = parse_kv_list(",".join(cfg.kv)) if cfg.kv else [FULL]
    if cfg.engine != "hf" and any(p.evicts for p in policies):
        raise BrevityError(f"--kv: KV-cache policies evict inside the hf engine; the {cfg.engine} engine's server "
                           "keeps its own cache (use --engine hf)")
    engines.preflight(methods)  # servers answer, names are served, the engine can run every method
    _check_model_names([m for _, m in methods], engines)
    engines.check_formats(methods)  # each method against its model's reasoning format
    problems = load_problems(cfg.task.name, split=cfg.split, n=cfg.n, **dict(cfg.task.params))
    if not problems:
        raise BrevityError(f"task {cfg.task.name!r} has no {cfg.split} problems")
    judge = _model_judge(cfg, problems)  # before --out: a judge URL that does not answer is one line
    prepare_out(cfg)
    store = RecordStore(cfg.out / "records.jsonl")
    runs_path = cfg.out / "runs.jsonl"
    skipped: dict[tuple[str, str], int] = {}
    methods = [(dataclasses.replace(m, max_tokens=cfg.max_tokens), model) for m, model in methods]
    labels = []
    for (method, model), policy in [(mm, p) for mm in methods for p in policies]:
        spec = kv_label(method.spec(), policy)
        labels.append(spec)
        run_problems = under_policy(problems, policy)
        engines.retain([model, *method.extra_models()])  # free the models (and stop the servers) it does not use
        mhash = engines.fingerprint(model)
        for other in method.extra_models():  # a route's fast model: its weights enter the record ids too
            mhash = hashlib.sha256((mhash + engines.fingerprint(other)).encode()).hexdigest()[:16]
        ids = {p.id: record_id(cfg.task.key(), p.id, mhash, spec, cfg.decoding()) for p in problems}
        long = too_long(method, engines.format(model), context_length(engines.plan(model).folder), problems)
        skipped[(spec, engines.label(model))] = len(long)
        todo = [p for p in run_problems if ids[p.id] not in store.ids and p.id not in long]
        if not todo:
            continue
        engine = engines(model)  # only now: a resumed run starts no server for methods already done
        ctx = RunContext(engine, make_engine=engines, task=cfg.task, log_prompts=cfg.log_prompts, ui=ui)
        ctx = ctx.but(state=method.prepare(ctx))
        lat_ids = {p.id for p in problems[: cfg.latency_n]}
        alone = [p for p in todo if p.id in lat_ids]
        batched = [p for p in todo if p.id not in lat_ids]
        with ui.task(f"{spec} @ {engine.model_name}", total=len(todo)) as advance:
            for p in alone:  # batch 1 with a cold cache: the latency a single user sees
                if hasattr(engine, "clear_caches"):
                    engine.clear_caches()
                t0 = time.perf_counter()
                with PeakMemory() as mem:
                    sol = judged(judge, [p], method.solve([p], ctx))[0]
                sol.latency_s = time.perf_counter() - t0
                _save(store, runs_path, [sol], ids, mhash, spec, engine, 0.0, mem.mb, alone=True)
                advance(1)
            size = max(CHUNK, getattr(engine, "concurrency", 0))  # a server gets N requests in flight
            for i in range(0, len(batched), size):
                chunk = batched[i:i + size]
                t0 = time.perf_counter()
                with PeakMemory() as mem:
                    sols = judged(judge, chunk, method.solve(chunk, ctx))
                _save(store, runs_path, sols, ids, mhash, spec, engine, time.perf_counter() - t0, mem.mb)
                advance(len(chunk))
    if judge is not None:
        judge.close()  # its HTTP client, or its in-process model
    rows = summarize_records(store.rows, runs_path, labels)
    for r in rows:
        r["skipped_long_prompts"] = skipped.get((r["method"], r["model"]), 0)
    write_outputs(cfg.out, rows, store.rows, problems)
    return rows


def _model_judge(cfg: BenchConfig, problems: list[Problem]):
    """The model judge of --judge (bench/model_judge.py), or None; refused on a task with no refusal to judge."""
    if cfg.judge is None:
        return None
    if not any(p.metadata.get("answer_type") == "refusal" for p in problems):
        raise BrevityError(f"--judge labels refusals, and task {cfg.task.name!r} has none to judge; use it with "
                           "xstest, safety-arith or safety-jsonl")
    from brevity.bench.model_judge import ModelJudge

    return ModelJudge(cfg.judge)


def judged(judge, problems: list[Problem], solutions: list[Solution]) -> list[Solution]:
    """Scored by the task (the rule judge for refusals), then relabelled by the model judge where there is one."""
    score_solutions(problems, solutions)
    if judge is not None:
        judge.rejudge(problems, solutions)
    return solutions


def _save(store: RecordStore, runs_path: Path, sols: list[Solution], ids: dict, mhash: str, spec: str, engine,
          seconds: float, peak_mb: float, alone: bool = False) -> None:
    rows = []
    for s in sols:
        d = s.to_dict()
        d.update(method=spec, record_id=ids[s.problem_id], model_hash=mhash, model_path=str(engine.model_path))
        rows.append(d)
    store.append(rows)
    tokens = sum(s.generated_positions + s.probe_tokens for s in sols)
    JsonlStore(runs_path).append([{"method": spec, "model": engine.model_name, "model_hash": mhash,
                                   "batched": not alone, "seconds": seconds, "tokens": tokens, "problems": len(sols),
                                   "peak_memory_mb": peak_mb}])


def load_solutions(rows: list[dict]) -> list[Solution]:
    return [Solution.from_dict(r) for r in rows]


