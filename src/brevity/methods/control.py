"""Shared machinery for methods that steer the thinking phase through the engine protocol.

A method keeps one `Thought` per problem, extends the active ones in batched rounds
(`extend`), may inject tokens or probe for a trial answer (`probe`) between rounds, and finally
closes thinking and lets the model answer (`answer`). Every call continues token ids the engine
has already seen, so a prefix-caching engine (the `hf` engine, vLLM with prefix caching) pays only
for the new tokens of each round and each probe.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from brevity.engines.base import Completion, Engine, ProgressFn, Request
from brevity.methods.solution import Solution
from brevity.tasks import Problem
from brevity.tasks.grading import extract_answer

PROBE_TOKENS = 12  # room for a trial answer

Messages = list[dict[str, str]]


Render = Callable[[Problem, Any], Messages]  # (problem, the model's format) -> chat messages


def prompts(problems: Sequence[Problem], engine: Engine, render: Render | None = None,
            thinking: bool = True, steer: bool = False) -> list[tuple[int, ...]]:
    """Token-id prompts rendered by the model's own chat template through its format, so every engine sees
    the same ids; `render` (a prompt-level method's messages) replaces the plain question. `steer` opens the
    thinking section for a method that caps or probes it (formats whose model opens it itself)."""
    return [tuple(engine.format.encode(prompt_text(p, engine, render, thinking, steer))) for p in problems]


def prompt_text(problem: Problem, engine: Engine, render: Render | None = None,
                thinking: bool = True, steer: bool = False) -> str:
    """One problem's prompt: a served raw prompt as given, served chat messages or a benchmark question
    through the model's format."""
    fmt = engine.format
    if isinstance(problem.prompt, str):  # already rendered by the client: only what the method adds goes on
        if fmt.spec.thinks and not thinking:
            return problem.prompt + fmt.off_prefill()
        if fmt.spec.thinks and steer and not fmt.spec.prompt_opens:
            return problem.prompt + fmt.spec.open
        return problem.prompt
    if problem.prompt is not None:
        return fmt.render(problem.prompt, thinking=thinking, steer=steer, **problem.template_kwargs)
    messages = render(problem, fmt) if render else fmt.messages(problem.question)
    return fmt.render(messages, thinking=thinking, steer=steer)


def encode(engine: Engine, text: str) -> list[int]:
    return engine.format.encode(text)


@dataclass
class Thought:
    """One problem's thinking span as a method builds it (injected tokens included)."""

    ids: list[int] = field(default_factory=list)
    closed: bool = False  # the model closed thinking itself
    done: bool = False
    forced: bool = False  # a budget ran out and the method closed thinking
    passes: int = 0  # decode steps spent on thinking
    probes: int = 0
    probe_tokens: int = 0
    probe_seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)
    sink: Any = None  # the problem's stream: generated and injected thinking go there in order


def injected(sink: Any, text: str) -> None:
    """Text a method writes into a stream that the model did not (a raw completion lists where)."""
    getattr(sink, "inject", sink.write)(text)


def new_thoughts(problems: Sequence[Problem]) -> list[Thought]:
    return [Thought(sink=p.sink) for p in problems]


def inject(engine: Engine, thought: Thought, text: str) -> None:
    """Text the method writes into the thinking span itself (a phrase, "Wait", a newline)."""
    thought.ids += encode(engine, text)
    if thought.sink is not None:
        injected(thought.sink, text)


def extend(engine: Engine, base: Sequence[tuple[int, ...]], thoughts: list[Thought], active: list[int],
           max_new: Sequence[int], stop: tuple[str, ...] = (),
           logit_bias: tuple[tuple[int, float], ...] = ()) -> dict[int, Completion]:
    """Continue the active problems' thinking by up to max_new[k] tokens each, stopping at `stop` and at
    the format's closing marker; a problem whose model closes thinking or ends its turn is marked done."""
    close = engine.format.spec.close
    stop = tuple(dict.fromkeys((*stop, close)))
    reqs = [Request(base[i] + tuple(thoughts[i].ids), n, stop=stop, logit_bias=logit_bias, sink=thoughts[i].sink)
            for i, n in zip(active, max_new)]
    comps = engine.complete(reqs) if reqs else []
    out = {}
    for i, c in zip(active, comps):
        t = thoughts[i]
        t.ids += c.token_ids
        t.passes += len(c.token_ids)
        if c.stop_reason == close:
            t.closed = t.done = True
        elif c.finish_reason == "length" and (k := _partial_marker(t.ids, engine.format.close_ids)):
            del t.ids[-k:]  # the cap fell inside a multi-token closing marker (harmony's): it closed
            t.closed = t.done = True
        elif c.finish_reason == "stop" and c.stop_reason is None:  # the turn ended inside thinking
            t.done = True
        if t.sink is not None and t.sink.cancelled:  # its reader left: no more rounds or probes
            t.done = True
        out[i] = c
    return out


def _partial_marker(ids: list[int], marker: list[int]) -> int:
    """Length of the longest proper start of `marker` that `ids` ends with (0: none)."""
    for k in range(min(len(marker) - 1, len(ids)), 0, -1):
        if ids[-k:] == marker[:k]:
            return k
    return 0


def force_close(engine: Engine, thought: Thought, phrase: str = "") -> None:
    """The budget ran out: add the transition phrase (it counts as thinking; default: the format's) and stop."""
    inject(engine, thought, phrase or engine.format.spec.forced_close)
    thought.forced = thought.done = True


@dataclass
class TrialAnswer:
    text: str
    value: str | None  # the extracted number (None: no answer)
    confidence: float  # mean probability of the answer tokens


def probe(engine: Engine, base: Sequence[tuple[int, ...]], thoughts: list[Thought], active: list[int],
          suffix: Sequence[int], answer_end: str) -> dict[int, TrialAnswer]:
    """Ask each active problem for a trial answer as if thinking stopped here: append `suffix` (leave
    thinking, ask for the answer the format's way), decode greedily to `answer_end`. The tokens and time
    go to the probe columns, never to thinking; the thought itself is unchanged."""
    active = [i for i in active if thoughts[i].sink is None or not thoughts[i].sink.cancelled]
    if not active:
        return {}
    suffix = list(suffix)
    reqs = [Request(base[i] + tuple(thoughts[i].ids) + tuple(suffix), PROBE_TOKENS,
                    stop=(answer_end,), logprobs=True, keep_cache=False)
            for i in active]
    t0 = time.perf_counter()
    comps = engine.complete(reqs)
    share = (time.perf_counter() - t0) / len(reqs)
    out = {}
    for i, c in zip(active, comps):
        t = thoughts[i]
        t.probes += 1
        t.probe_tokens += len(suffix) + len(c.token_ids)
        t.probe_seconds += share
        lps = c.logprobs or []
        conf = sum(math.exp(x) for x in lps) / len(lps) if lps else 0.0
        out[i] = TrialAnswer(c.text, extract_answer(c.text, "flexible"), conf)
    return out


def answer(method, problems: Sequence[Problem], engine: Engine, base: Sequence[tuple[int, ...]],
           thoughts: list[Thought], progress: ProgressFn | None = None) -> list[Solution]:
    """Close every thought with the format's closing marker and let the model answer (room: the format's
    answer tokens); build the Solutions."""
    fmt = engine.format
    end = tuple(fmt.close_ids)
    for t in thoughts:
        if t.sink is not None and t.closed:  # the model's own close, cut as a stop string
            t.sink.write(fmt.spec.close)
        elif t.sink is not None:
            injected(t.sink, fmt.spec.close)
    reqs = [Request(b + tuple(t.ids) + end, fmt.answer_tokens, sink=t.sink) for b, t in zip(base, thoughts)]
    out = []
    for prob, b, t, c in zip(problems, base, thoughts, engine.complete(reqs, progress)):
        extra = dict(t.extra)
        if t.forced:
            extra["forced"] = True
        sol = method.make_solution(prob, engine, t.ids, fmt.strip_stop(c.token_ids), c.finish_reason,
                                   forward_passes=t.passes + len(c.token_ids), prompt_ids=b, **extra)
        sol.probe_tokens, sol.probe_seconds = t.probe_tokens, t.probe_seconds
        out.append(sol)
    return out
