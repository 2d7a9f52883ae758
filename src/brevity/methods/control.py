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
from brevity.thinking import split_completion
from brevity.zoo.chat import END_THINK, prompt_text

ANSWER_TOKENS = 48  # room for the answer after thinking is closed
PROBE_TOKENS = 12  # room for a trial answer


def prompts(problems: Sequence[Problem], engine: Engine,
            render: Callable[[Problem], str] | None = None) -> list[tuple[int, ...]]:
    """Token-id prompts via the model's own chat template, so every engine sees the same ids; `render`
    (a prompt-level method's template) replaces the plain question prompt."""
    tok = engine.tokenizer
    texts = [served_text(p, tok) if p.prompt is not None else render(p) if render else prompt_text(p.question)
             for p in problems]
    return [tuple(ids) for ids in tok(texts, add_special_tokens=False).input_ids]


def served_text(problem: Problem, tokenizer) -> str:
    """A served request's prompt: raw text as given, chat messages through the model's own template."""
    if isinstance(problem.prompt, str):
        return problem.prompt
    return tokenizer.apply_chat_template(problem.prompt, tokenize=False, add_generation_prompt=True)


def encode(engine: Engine, text: str) -> list[int]:
    return list(engine.tokenizer(text, add_special_tokens=False).input_ids)


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


def new_thoughts(problems: Sequence[Problem]) -> list[Thought]:
    return [Thought(sink=p.sink) for p in problems]


def inject(engine: Engine, thought: Thought, text: str) -> None:
    """Text the method writes into the thinking span itself (a phrase, "Wait", a newline)."""
    thought.ids += encode(engine, text)
    if thought.sink is not None:
        thought.sink.write(text)


def extend(engine: Engine, base: Sequence[tuple[int, ...]], thoughts: list[Thought], active: list[int],
           max_new: Sequence[int], stop: tuple[str, ...] = (END_THINK,),
           logit_bias: tuple[tuple[int, float], ...] = ()) -> dict[int, Completion]:
    """Continue the active problems' thinking by up to max_new[k] tokens each, stopping at `stop`;
    a problem whose model closes thinking (`</think>`) or ends its turn is marked done."""
    reqs = [Request(base[i] + tuple(thoughts[i].ids), n, stop=stop, logit_bias=logit_bias, sink=thoughts[i].sink)
            for i, n in zip(active, max_new)]
    comps = engine.complete(reqs) if reqs else []
    out = {}
    for i, c in zip(active, comps):
        t = thoughts[i]
        t.ids += c.token_ids
        t.passes += len(c.token_ids)
        if c.stop_reason == END_THINK:
            t.closed = t.done = True
        elif c.finish_reason == "stop" and c.stop_reason is None:  # the turn ended inside thinking
            t.done = True
        if t.sink is not None and t.sink.cancelled:  # its reader left: no more rounds or probes
            t.done = True
        out[i] = c
    return out


def force_close(engine: Engine, thought: Thought, phrase: str) -> None:
    """The budget ran out: add the transition phrase (it counts as thinking) and stop."""
    inject(engine, thought, phrase)
    thought.forced = thought.done = True


@dataclass
class TrialAnswer:
    text: str
    value: str | None  # the extracted number (None: no answer)
    confidence: float  # mean probability of the answer tokens


def probe(engine: Engine, base: Sequence[tuple[int, ...]], thoughts: list[Thought], active: list[int],
          inducer: str, answer_end: str) -> dict[int, TrialAnswer]:
    """Ask each active problem for a trial answer as if thinking stopped here: close thinking, add the
    inducer, decode greedily to `answer_end`. The tokens and time go to the probe columns, never to
    thinking; the thought itself is unchanged."""
    active = [i for i in active if thoughts[i].sink is None or not thoughts[i].sink.cancelled]
    if not active:
        return {}
    suffix = encode(engine, "\n") + encode(engine, END_THINK) + encode(engine, inducer)
    reqs = [Request(base[i] + tuple(thoughts[i].ids) + tuple(suffix), PROBE_TOKENS,
                    stop=(answer_end, engine.tokenizer.eos_token or END_THINK), logprobs=True, keep_cache=False)
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
    """Close every thought with `</think>` and let the model answer; build the Solutions."""
    tok = engine.tokenizer
    end = (tok.convert_tokens_to_ids(END_THINK),)
    for t in thoughts:
        if t.sink is not None:
            t.sink.write(END_THINK)
    reqs = [Request(b + tuple(t.ids) + end, ANSWER_TOKENS, sink=t.sink) for b, t in zip(base, thoughts)]
    out = []
    for prob, t, c in zip(problems, thoughts, engine.complete(reqs, progress)):
        s = split_completion(list(end) + c.token_ids, tok)
        extra = dict(t.extra)
        if t.forced:
            extra["forced"] = True
        sol = method.make_solution(prob, engine, t.ids, s.answer_ids, c.finish_reason,
                                   forward_passes=t.passes + len(c.token_ids), **extra)
        sol.probe_tokens, sol.probe_seconds = t.probe_tokens, t.probe_seconds
        out.append(sol)
    return out
