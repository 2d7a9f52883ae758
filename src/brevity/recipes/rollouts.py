"""A model's own traces on training problems: the raw material of self-training recipes (TokenSkip
prunes the correct ones, `shortest` keeps the shortest correct of K) and of RL's reference numbers.

Rollouts are generated through the engine protocol, so they batch and use the prefix cache like
every method, and are cached as JSON lines keyed by model hash and settings: a rebuild that needs
the same rollouts reads them instead of generating again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from brevity.engines.base import Engine, ProgressFn, Request
from brevity.jsonl import JsonlStore
from brevity.methods.base import DEFAULT_MAX_TOKENS
from brevity.methods.control import prompts
from brevity.tasks import Problem
from brevity.tasks.grading import score, score_solutions


@dataclass
class Rollout:
    problem_id: str
    sample: int  # 0 is the greedy trace, 1.. are samples at the given temperature
    thinking_ids: list[int]
    answer: str
    correct: bool
    closed: bool


def generate_rollouts(engine: Engine, problems: Sequence[Problem], k: int = 1, temperature: float = 1.0,
                      seed: int = 0, max_tokens: int = DEFAULT_MAX_TOKENS,
                      progress: ProgressFn | None = None) -> list[list[Rollout]]:
    """K traces per problem: the greedy one, then k-1 samples (one seed per sample index)."""
    base = prompts(problems, engine)
    out: list[list[Rollout]] = [[] for _ in problems]
    for s in range(k):
        reqs = [Request(p, max_tokens, temperature=0.0 if s == 0 else temperature,
                        seed=None if s == 0 else seed + s) for p in base]
        for i, (prob, c) in enumerate(zip(problems, engine.complete(reqs, progress))):
            sp = engine.format.split(c.token_ids)
            ans = engine.tokenizer.decode(sp.answer_ids, skip_special_tokens=True)
            ok = sp.closed and score(prob, ans, bool(sp.answer_ids))[0]
            out[i].append(Rollout(prob.id, s, sp.thinking_ids, ans, ok, sp.closed))
    return out


def method_rollouts(engine: Engine, problems: Sequence[Problem], spec: str, sample: int = 0,
                    progress: ProgressFn | None = None) -> list[list[Rollout]]:
    """One greedy trace per problem through a registered method: a prompt method (TALE-EP, CCoT)
    conditions the model to be brief, as Munkhbat et al.'s few-shot conditioning does before they
    keep the shortest correct. `sample` numbers these traces after the plain ones of a group."""
    from brevity.methods import build_method

    tok = engine.tokenizer
    sols = score_solutions(problems, build_method(spec).run(problems, engine, progress=progress))
    ids = tok([s.thinking.rstrip("\n") for s in sols], add_special_tokens=False).input_ids
    return [[Rollout(s.problem_id, sample, list(t), s.answer, s.correct, s.finish_reason == "stop")]
            for s, t in zip(sols, ids)]


def cached_rollouts(cache_dir: Path, model_hash: str, engine: Engine, problems: Sequence[Problem], k: int,
                    temperature: float, seed: int = 0, progress: ProgressFn | None = None,
                    method: str | None = None, sample: int = 0) -> list[list[Rollout]]:
    """generate_rollouts (or, given a method spec, method_rollouts), read from `cache_dir` when the
    same model and settings were rolled out before."""
    settings = [model_hash, [p.id for p in problems], k, temperature, seed] + ([method, sample] if method else [])
    key = hashlib.sha256(json.dumps(settings).encode())
    store = JsonlStore(Path(cache_dir) / f"rollouts-{key.hexdigest()[:16]}.jsonl", hint="delete the file to roll out "
                       "again")
    if len(store.rows) == k * len(problems):
        rows = [Rollout(**r) for r in store.rows]
        return [rows[i * k:(i + 1) * k] for i in range(len(problems))]
    if method:
        if k != 1:
            raise ValueError("a method's rollouts are one greedy trace per problem (k=1)")
        result = method_rollouts(engine, problems, method, sample, progress=progress)
    else:
        result = generate_rollouts(engine, problems, k, temperature, seed, progress=progress)
    store.replace([asdict(r) for group in result for r in group])
    return result
