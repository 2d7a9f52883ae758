"""Shared machinery for methods that steer the thinking phase through the engine protocol.

A method keeps one `Thought` per problem, extends the active ones in batched rounds
(`extend`), may inject tokens or probe for a trial answer (`probe`) between rounds, and finally
closes thinking and lets the model answer (`answer`). Every call continues token ids the engine
has already seen, so a prefix-caching engine (the `hf` engine, vLLM with prefix caching) pays only
for the new tokens of each round and each probe.

A served problem carries the client's own decoding settings (`Decoding`: temperature, top_p, seed, stop,
logprobs, and vLLM's extensions: top_k, min_p, penalties, ignore_eos, min_tokens, stop_token_ids, allowed ids).
Every method applies them the same way, through `request`, wherever it asks the engine for text the client
reads (thinking rounds and the answer): sampling and logprobs everywhere, the client's stop strings on the
answer only, so a `stop: ["\n"]` never cuts the thinking. Probes and a method's own helper
calls (TALE's budget estimate) stay greedy: they are the method's, not the client's.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from brevity.engines.base import NO_SHAPING, Completion, Engine, Request, Shaping
from brevity.methods.base import RunContext
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
            return fmt.thinking_off(problem.prompt)
        if fmt.spec.thinks and steer and not fmt.spec.prompt_opens:
            return problem.prompt + fmt.spec.open
        return problem.prompt
    if problem.prompt is not None:
        return fmt.render(problem.prompt, thinking=thinking, steer=steer, **problem.template_kwargs)
    messages = render(problem, fmt) if render else fmt.messages(problem.question, instruct=problem.instructed)
    return fmt.render(messages, thinking=thinking, steer=steer)


def encode(engine: Engine, text: str) -> list[int]:
    return engine.format.encode(text)


@dataclass(frozen=True)
class Decoding:
    """A served request's decoding settings (the bench decodes greedily: no Decoding). `seed` makes sampling
    repeatable: each engine call of a method gets a seed derived from it and the tokens generated so far, so a
    request gives the same tokens alone or batched with others, round after round. `stop` ends the answer."""

    temperature: float = 0.0
    top_p: float = 1.0
    top_k: int = 0
    seed: int | None = None
    logprobs: bool = False
    top_logprobs: int = 0
    stop: tuple[str, ...] = ()
    # vLLM's sampling extensions; min_tokens counts every token the client reads
    shaping: Shaping = NO_SHAPING
    include_stop_str_in_output: bool = False
    skip_special_tokens: bool = True  # the answer text leaves special tokens out (vLLM's default)
    # The KV-cache policy every engine call of the request decodes under (brevity.engines.kv_policy; None: the
    # engine's own)
    kv: Any = None

    @property
    def default(self) -> bool:
        return self == Decoding()


def decoding(problem: Problem) -> Decoding:
    return problem.decoding or Decoding()


def request(problem: Problem, prompt: tuple[int, ...], max_tokens: int, part: Literal["thinking", "answer", "all"],
            prior: int = 0, stop: tuple[str, ...] = (), logprobs: bool = False, sink: Any = None,
            **kw: Any) -> Request:
    """An engine Request for text the client reads, with the problem's decoding settings: `part` "thinking"
    (the client's stop strings do not apply), "answer" (they do), or "all" (one call writes thinking and
    answer; the caller checks `needs_answer_phase` first). `prior`: tokens this problem generated or had
    injected before this call (they vary the round's seed). `stop`, `logprobs`: the method's own needs. `sink`: the
    problem's stream (`RunContext.stream`), which gets the text as the engine writes it."""
    d = decoding(problem)
    seed = None if d.seed is None else (d.seed + 1_000_003 * prior) % 2**63
    stops = tuple(dict.fromkeys((*stop, *(d.stop if part != "thinking" else ()))))
    shaping = replace(d.shaping, min_tokens=max(0, d.shaping.min_tokens - prior)) if d.shaping.min_tokens \
        else d.shaping
    keep = d.stop if d.include_stop_str_in_output and part != "thinking" else ()
    return Request(prompt, max_tokens, stop=stops, temperature=d.temperature, top_p=d.top_p, top_k=d.top_k,
                   seed=seed, logprobs=d.logprobs or logprobs, top_logprobs=d.top_logprobs, sink=sink,
                   shaping=shaping, keep_stop=keep, kv=d.kv, **kw)


def kv_extra(c: Completion) -> dict[str, Any]:
    """A record's `kv` entry: what the sequence held in its KV cache under a policy (the engine's peaks, carried
    from call to call of one sequence), where the engine evicts."""
    return {"kv": c.extra["kv"]} if "kv" in c.extra else {}


def needs_answer_phase(problems: Sequence[Problem], engine: Engine) -> bool:
    """Whether a one-call method (cot) must think and answer in two calls: the client's stop strings apply to
    the answer alone, and an engine (or an upstream server) applies stop strings to everything it writes."""
    return engine.format.spec.thinks and any(decoding(p).stop for p in problems)


def closing(engine: Engine, problem: Problem) -> tuple[int, ...]:
    """What a method puts between thinking and answer: the format's closing marker, and, when the client's stop
    strings apply to the answer, the whitespace the model writes after it (the response strips it, so a
    `stop: ["\n"]` must not end the answer before it begins)."""
    fmt = engine.format
    tail = encode(engine, fmt.spec.after_close) if decoding(problem).stop and fmt.spec.after_close else []
    return tuple(fmt.close_ids) + tuple(tail)


def closing_text(engine: Engine, end: Sequence[int]) -> str:
    spec = engine.format.spec
    return spec.close + (spec.after_close if len(end) > len(engine.format.close_ids) else "")


def think_then_answer(problems: Sequence[Problem], ctx: RunContext, base: Sequence[tuple[int, ...]],
                      max_tokens: int) -> list[Completion]:
    """What one call up to `max_tokens` would write, in two: thinking up to the format's closing marker, then
    (after the marker) the answer with the client's stop strings. Returns one Completion per problem, as the
    single call would (the marker's entries carry no logprob: it was cut by the stop and put back)."""
    engine, logprobs, progress = ctx.engine, ctx.logprobs, ctx.progress
    close = engine.format.spec.close
    firsts = engine.complete([request(p, b, max_tokens, "thinking", stop=(close,), logprobs=logprobs,
                                      sink=ctx.stream(p)) for p, b in zip(problems, base)])
    closed = [i for i, c in enumerate(firsts) if c.stop_reason == close]
    ends = {i: list(closing(engine, problems[i])) for i in closed}
    for i in closed:
        if (sink := ctx.stream(problems[i])) is not None:
            sink.write(closing_text(engine, ends[i]))
    seconds = engine.complete([request(problems[i], base[i] + tuple(firsts[i].token_ids) + tuple(ends[i]),
                                       max(0, max_tokens - len(firsts[i].token_ids) - len(ends[i])), "answer",
                                       prior=len(firsts[i].token_ids) + len(ends[i]), logprobs=logprobs,
                                       sink=ctx.stream(problems[i]))
                               for i in closed], progress)
    out = list(firsts)
    for i, c in zip(closed, seconds):
        a, end = firsts[i], ends[i]
        lps = None if a.logprobs is None else a.logprobs + [None] * len(end) + (c.logprobs or [])
        tops = None if a.top_logprobs is None else a.top_logprobs + [None] * len(end) + (c.top_logprobs or [])
        out[i] = Completion(prompt_ids=a.prompt_ids, token_ids=a.token_ids + end + c.token_ids, text="",
                            finish_reason=c.finish_reason, stop_reason=c.stop_reason, logprobs=lps, top_logprobs=tops,
                            stop_tail=c.stop_tail)
    if progress and len(closed) < len(problems):
        progress(len(problems) - len(closed))
    return out


def refuse_decoding(problems: Sequence[Problem], method: str) -> None:
    """For methods that decode outside the engine's sampler (latent thoughts): greedy and nothing else."""
    from brevity.errors import BrevityError

    if any(not decoding(p).default for p in problems):
        raise BrevityError(f"{method} decodes greedily with its own loop: temperature, top_p, seed, stop, "
                           "logprobs and KV-cache policies cannot apply; drop them or use another method")


Entry = tuple[int, float | None, list[tuple[int, float]] | None]  # token id, its logprob, the top alternatives


@dataclass
class TokenLogprobs:
    """A served answer's tokens with their log-probabilities, for the response's `logprobs`: the thinking,
    what lies between (the closing marker, generated or injected) and the answer. Text the method injected
    (a closing phrase, "Wait", a forced closing marker) was not generated: its entries have logprob None."""

    thinking: list[Entry] = field(default_factory=list)
    between: list[Entry] = field(default_factory=list)
    answer: list[Entry] = field(default_factory=list)


def entries(c: Completion, ids: Sequence[int] | None = None, start: int = 0) -> list[Entry]:
    """A completion's tokens (or `ids`, a slice of them from `start`) as logprob entries."""
    ids = c.token_ids if ids is None else ids
    lps, tops = c.logprobs or [], c.top_logprobs or []
    return [(t, lps[start + j] if start + j < len(lps) else None, tops[start + j] if start + j < len(tops) else None)
            for j, t in enumerate(ids)]


def split_logprobs(c: Completion, fmt) -> TokenLogprobs:
    """A one-call completion's entries, cut where the format splits its thinking from its answer."""
    s = fmt.split(c.token_ids)
    all_ = entries(c)
    if not s.closed:
        return TokenLogprobs(thinking=all_[len(all_) - len(s.thinking_ids):])
    close = s.answer_start - len(fmt.close_ids) if fmt.spec.thinks and s.answer_start else 0
    answer = all_[s.answer_start:s.answer_start + len(s.answer_ids)]
    return TokenLogprobs(thinking=all_[close - len(s.thinking_ids):close] if s.thinking_ids else [],
                         between=all_[close:s.answer_start], answer=answer)


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
    problem: Problem | None = None  # whose decoding settings its engine calls use
    entries: list[Entry] = field(default_factory=list)  # per id, when the client asked for logprobs
    # Text the model wrote before a stop string inside the token the stop cut (Qwen writes ".\n" as one token,
    # so stopping at "\nWait" leaves "."): it goes in with what the method writes next, tokenized together as
    # the model's tokenizer would, so the model never sees a split it was not trained on.
    tail: str = ""
    # [start, end) character spans of the thinking text that the method wrote, not the model (Solution.injected)
    injected: list[list[int]] = field(default_factory=list)


def injected(sink: Any, text: str) -> None:
    """Text a method writes into a stream that the model did not (a raw completion lists where)."""
    getattr(sink, "inject", sink.write)(text)


def new_thoughts(problems: Sequence[Problem], ctx: RunContext) -> list[Thought]:
    """A thought per problem, for a method whose prompt opened thinking (`prompts(..., steer=True)`): each stream
    is told so, since a model that opens thinking itself would have written the opening marker."""
    for p in problems:
        if (sink := ctx.stream(p)) is not None:
            opened(sink)
    return [Thought(sink=ctx.stream(p), problem=p) for p in problems]


def opened(sink: Any) -> None:
    """Tell a stream that the method's prompt opened thinking (what follows is thinking until the closing marker)."""
    if hasattr(sink, "opened"):
        sink.opened()


def inject(engine: Engine, thought: Thought, text: str) -> None:
    """Text the method writes into the thinking span itself (a phrase, "Wait", a newline), after the thought's
    pending tail (the engine already streamed the tail: the sink gets `text` alone)."""
    ids = encode(engine, thought.tail + text)
    thought.tail = ""
    thought.ids += ids
    thought.entries += [(t, None, None) for t in ids]
    if text:  # where it lies in the thinking text: its end, as the tokenizer decodes the thought
        end = len(engine.tokenizer.decode(thought.ids, skip_special_tokens=False))
        mark_injected(thought.injected, end - len(text), end)
    if thought.sink is not None and text:
        injected(thought.sink, text)


def mark_injected(spans: list[list[int]], start: int, end: int) -> None:
    """Add [start, end) to a list of injected spans, merged with the last when they touch."""
    if spans and spans[-1][1] >= start:
        spans[-1][1] = max(spans[-1][1], end)
    else:
        spans.append([start, end])


def extend(engine: Engine, base: Sequence[tuple[int, ...]], thoughts: list[Thought], active: list[int],
           max_new: Sequence[int], stop: tuple[str, ...] = (),
           logit_bias: tuple[tuple[int, float], ...] = ()) -> dict[int, Completion]:
    """Continue the active problems' thinking by up to max_new[k] tokens each, stopping at `stop` and at
    the format's closing marker; a problem whose model closes thinking or ends its turn is marked done."""
    close = engine.format.spec.close
    stop = tuple(dict.fromkeys((*stop, close)))
    for i in active:  # the model goes on from a pending tail: its own tokens first
        if thoughts[i].tail:
            inject(engine, thoughts[i], "")
    reqs = [_thought_request(thoughts[i], base[i] + tuple(thoughts[i].ids), n, "thinking", len(thoughts[i].ids),
                             stop=stop, logit_bias=logit_bias) for i, n in zip(active, max_new)]
    comps = engine.complete(reqs) if reqs else []
    out = {}
    for i, c in zip(active, comps):
        t = thoughts[i]
        t.ids += c.token_ids
        t.entries += entries(c)
        t.passes += len(c.token_ids)
        t.tail = c.stop_tail
        if c.stop_reason == close:
            t.closed = t.done = True
        elif c.finish_reason == "length" and (k := _partial_marker(t.ids, engine.format.close_ids)):
            del t.ids[-k:], t.entries[-k:]  # the cap fell inside a multi-token closing marker (harmony's): it closed
            t.closed = t.done = True
        elif c.finish_reason == "stop" and c.stop_reason is None:  # the turn ended inside thinking
            t.done = True
        if t.sink is not None and t.sink.cancelled:  # its reader left: no more rounds or probes
            t.done = True
        out[i] = c
    return out


def _thought_request(t: Thought, prompt: tuple[int, ...], n: int, part, prior: int, **kw) -> Request:
    if t.problem is None:  # a thought built by hand (tests): greedy
        return Request(prompt, n, sink=t.sink, **kw)
    return request(t.problem, prompt, n, part, prior, sink=t.sink, **kw)


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
          lead: str, suffix: Sequence[int], answer_end: str) -> dict[int, TrialAnswer]:
    """Ask each active problem for a trial answer as if thinking stopped here: append `lead` (text, after the
    thought's pending tail) and `suffix` (leave thinking, ask for the answer the format's way), decode greedily
    to `answer_end`. The tokens and time go to the probe columns, never to thinking; the thought itself is
    unchanged."""
    active = [i for i in active if thoughts[i].sink is None or not thoughts[i].sink.cancelled]
    if not active:
        return {}
    ends = {i: encode(engine, thoughts[i].tail + lead) + list(suffix) for i in active}
    reqs = [Request(base[i] + tuple(thoughts[i].ids) + tuple(ends[i]), PROBE_TOKENS,
                    stop=(answer_end,), logprobs=True, keep_cache=False,
                    kv=decoding(thoughts[i].problem).kv if thoughts[i].problem is not None else None)
            for i in active]
    t0 = time.perf_counter()
    comps = engine.complete(reqs)
    share = (time.perf_counter() - t0) / len(reqs)
    out = {}
    for i, c in zip(active, comps):
        t = thoughts[i]
        t.probes += 1
        t.probe_tokens += len(ends[i]) + len(c.token_ids)
        t.probe_seconds += share
        lps = c.logprobs or []
        conf = sum(math.exp(x) for x in lps) / len(lps) if lps else 0.0
        out[i] = TrialAnswer(c.text, extract_answer(c.text, "flexible"), conf)
    return out


def answer(method, problems: Sequence[Problem], ctx: RunContext, base: Sequence[tuple[int, ...]],
           thoughts: list[Thought]) -> list[Solution]:
    """Close every thought with the format's closing marker and let the model answer (room: the format's
    answer tokens); build the Solutions."""
    engine = ctx.engine
    fmt = engine.format
    ends = [closing(engine, p) for p in problems]
    for t in thoughts:  # a tail nothing followed: its own tokens
        if t.tail:
            inject(engine, t, "")
    for t, end in zip(thoughts, ends):
        if t.sink is not None and t.closed:  # the model's own close, cut as a stop string
            t.sink.write(closing_text(engine, end))
        elif t.sink is not None:
            injected(t.sink, closing_text(engine, end))
    reqs = [_thought_request(t, b + tuple(t.ids) + end, method.answer_room(engine), "answer", len(t.ids) + len(end))
            for b, t, end in zip(base, thoughts, ends)]
    out = []
    for prob, b, t, c, end in zip(problems, base, thoughts, engine.complete(reqs, ctx.progress), ends):
        extra = dict(t.extra, **kv_extra(c))
        if t.forced:
            extra["forced"] = True
        ans = fmt.strip_stop(c.token_ids)
        sol = method.make_solution(prob, ctx, t.ids, ans, c.finish_reason, answer_tail=c.stop_tail,
                                   forward_passes=t.passes + len(c.token_ids), prompt_ids=b,
                                   injected=t.injected, close_injected=not t.closed, **extra)
        sol.probe_tokens, sol.probe_seconds = t.probe_tokens, t.probe_seconds
        if decoding(prob).logprobs:
            sol.logprobs = TokenLogprobs(t.entries, [(i, None, None) for i in end], entries(c, ans))
        out.append(sol)
    return out
