"""Both sides of a route run over whole splits, for calibration (validation), router training (train)
and the routing curves (test). Runs are cached per model, method and problem, so calibration, the
router and `brevity route eval` share them; a bench row never reads this cache (its latencies and
throughput are measured fresh)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

from brevity.engines.base import Engine
from brevity.jsonl import JsonlStore
from brevity.methods.base import Method
from brevity.methods.solution import Solution
from brevity.settings import settings
from brevity.tasks import Problem
from brevity.tasks.grading import score_solutions

CHUNK = 64


def cache_dir() -> Path:
    return settings().cache / "route"


def engine_identity(engine: Engine) -> list:
    """What tells one engine's model from another's in a cache key: its weights' hash, and for an upstream
    (whose folder may hold only the tokenizer) the server and its name for the model."""
    from brevity.identity import model_hash

    parts = [model_hash(Path(engine.model_path))]
    if engine.name == "openai":
        parts += [engine.base_url, engine.served_name]
    return parts


def run_side(method: Method, engine: Engine, problems: Sequence[Problem], progress=None,
             logprobs: bool = False) -> list[Solution]:
    """`method.solve` over the problems, reusing earlier runs of the same model, method and settings
    (`logprobs`: the answers' confidences, which a route's fast side reports)."""
    mhash, *upstream = engine_identity(engine)  # (the key's layout predates engine_identity: caches stay valid)
    key = json.dumps([mhash, method.spec(), method.max_tokens, logprobs, *upstream])
    path = cache_dir() / f"side-{hashlib.sha256(key.encode()).hexdigest()[:16]}.jsonl"
    store = JsonlStore(path, hint=f"delete {path} to run this side again")
    done = {s.problem_id: s for s in map(Solution.from_dict, store.rows)}
    todo = [p for p in problems if p.id not in done]
    if progress and len(todo) < len(problems):
        progress(len(problems) - len(todo))  # read from the cache
    for i in range(0, len(todo), CHUNK):
        sols = score_solutions(todo[i:i + CHUNK], method.run(todo[i:i + CHUNK], engine, logprobs=logprobs))
        store.append([s.to_dict() for s in sols])
        done.update((s.problem_id, s) for s in sols)
        if progress:
            progress(len(sols))
    return [done[p.id] for p in problems]
