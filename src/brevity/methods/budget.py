"""Decode-time thinking control without probes: full thinking (`cot`), none (`nothink`), a hard
budget with a forced answer (`budget:N`, the Qwen3 / s1 recipe), s1's budget forcing both ways
(`budget-wait`), and suppressed reflection words (`nowait`)."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import ClassVar

from brevity.errors import BrevityError
from brevity.methods.base import Method, RunContext, register
from brevity.methods.control import (
    TokenLogprobs,
    answer,
    decoding,
    encode,
    entries,
    extend,
    force_close,
    inject,
    injected,
    kv_extra,
    needs_answer_phase,
    new_thoughts,
    opened,
    prompts,
    request,
    split_logprobs,
    think_then_answer,
)
from brevity.methods.solution import Solution


@register
@dataclass(frozen=True)
class CoT(Method):
    """Think until the model closes thinking itself, then answer; on a model without a thinking section,
    plain generation."""

    name = "cot"

    def solve(self, problems, ctx: RunContext) -> list[Solution]:
        return self.solve_rendered(problems, ctx, self.render)

    def solve_rendered(self, problems, ctx: RunContext, render) -> list[Solution]:
        """Solve with `render` making each problem's messages (a prompt-level method's)."""
        engine = ctx.engine
        base = prompts(problems, engine, render)
        if needs_answer_phase(problems, engine):  # the client's stop strings end the answer, not the thinking
            comps = think_then_answer(problems, ctx, base, self.max_tokens)
        else:
            comps = engine.complete([request(prob, p, self.max_tokens, "all", logprobs=ctx.logprobs,
                                             sink=ctx.stream(prob))
                                     for prob, p in zip(problems, base)], ctx.progress)
        out = []
        for prob, b, c in zip(problems, base, comps):
            s = engine.format.split(c.token_ids)
            lps = c.logprobs[s.answer_start:s.answer_start + len(s.answer_ids)] if c.logprobs else None
            sol = self.make_solution(prob, ctx, s.thinking_ids, s.answer_ids, c.finish_reason,
                                     forward_passes=len(c.token_ids), answer_logprobs=lps, prompt_ids=b,
                                     closed=s.closed, answer_tail=c.stop_tail if s.closed else "", **kv_extra(c))
            if decoding(prob).logprobs:
                sol.logprobs = split_logprobs(c, engine.format)
            out.append(sol)
        return out


@register
@dataclass(frozen=True)
class NoThink(Method):
    """NoThinking (Ma et al. 2025): thinking off the family's way (Qwen3's switch, else a prefilled empty
    section, rendered by the format), then the model answers."""

    name = "nothink"
    steers_thinking = True

    def solve(self, problems, ctx: RunContext) -> list[Solution]:
        engine = ctx.engine
        fmt = engine.format
        fmt.require_thinking(self.name)
        for prob in problems:
            if (sink := ctx.stream(prob)) is not None:  # the prompt's thinking section is empty: the answer follows
                opened(sink)
                injected(sink, fmt.spec.close)
        base = prompts(problems, engine, thinking=False)
        room = min(self.answer_room(engine), self.max_tokens)
        reqs = [request(prob, p, room, "answer", logprobs=ctx.logprobs, sink=ctx.stream(prob))
                for prob, p in zip(problems, base)]
        out = []
        for prob, b, c in zip(problems, base, engine.complete(reqs, ctx.progress)):
            ans = fmt.strip_stop(c.token_ids) if c.finish_reason == "stop" and c.stop_reason is None else c.token_ids
            lps = c.logprobs[:len(ans)] if c.logprobs else None
            sol = self.make_solution(prob, ctx, [], ans, c.finish_reason, forward_passes=len(c.token_ids),
                                     answer_logprobs=lps, prompt_ids=b, answer_tail=c.stop_tail,
                                     close_injected=True, **kv_extra(c))
            if decoding(prob).logprobs:
                sol.logprobs = TokenLogprobs(answer=entries(c, ans))
            out.append(sol)
        return out


@dataclass(frozen=True)
class CappedThinking(Method):
    """Thinking capped at `max` tokens, the transition phrase included; when the cap is hit the method
    closes thinking with the phrase and the format's closing marker, and the model answers."""

    max: int = 256
    phrase: str = ""  # what closes a thought that hit the cap; "" is the model's format's forced close
    steers_thinking: ClassVar[bool] = True

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.max <= 0:
            raise BrevityError(f"{self.name}: max must be a positive number of tokens, got {self.max}")

    def check(self, engine) -> None:
        super().check(engine)
        self.room(engine)

    def closing(self, engine) -> str:
        return self.phrase or engine.format.spec.forced_close

    def room(self, engine) -> int:
        """Tokens the model may write itself before the phrase must go in."""
        room = self.max - len(encode(engine, self.closing(engine)))
        if room < 0:
            raise BrevityError(f"{self.name}: budget {self.max} is smaller than the transition phrase; "
                               "raise the budget or shorten the phrase")
        return room


@register
@dataclass(frozen=True)
class Budget(CappedThinking):
    """Cap thinking at `max` tokens (Qwen3's thinking budget, s1's budget forcing upper bound)."""

    name = "budget"
    positional = "max"
    max: int = 136  # the smallest cap within 1 point of cot on 300 validation problems
    # (docs/findings/core-benchmark.md)
    # Let the server enforce the cap in one call (vLLM's thinking_token_budget, started with the closing phrase
    # and the closing marker as its reasoning_end_str: brevity.serve.upstream.native_budget_args(FORMAT)).
    native: bool = False

    def solve(self, problems, ctx: RunContext) -> list[Solution]:
        if not self.native:
            return capped(self, problems, ctx)
        engine = ctx.engine
        fmt = engine.format
        room = self.room(engine)  # the server counts thinking before its closing phrase
        phrase = self.closing(engine)
        if any(decoding(p).stop for p in problems):
            raise BrevityError("stop strings cannot apply with the server's native thinking budget (its one call "
                               "writes thinking and answer); drop stop, or serve budgets with native=false")
        base = prompts(problems, engine)
        total = room + len(encode(engine, phrase)) + len(fmt.close_ids) + self.answer_room(engine)
        reqs = [request(prob, p, total, "all", sink=ctx.stream(prob),
                        thinking_budget=room) for prob, p in zip(problems, base)]
        out = []
        for prob, b, c in zip(problems, base, engine.complete(reqs, ctx.progress)):
            s = fmt.split(c.token_ids)
            thinking = engine.tokenizer.decode(s.thinking_ids, skip_special_tokens=False)
            forced = thinking.endswith(phrase)  # the server wrote the phrase and the closing marker
            spans = [[len(thinking) - len(phrase), len(thinking)]] if forced else []
            out.append(self.make_solution(prob, ctx, s.thinking_ids, s.answer_ids, c.finish_reason,
                                          forward_passes=len(c.token_ids), prompt_ids=b, closed=s.closed,
                                          injected=spans, close_injected=forced,
                                          **({"forced": True} if forced else {})))
            if decoding(prob).logprobs:
                out[-1].logprobs = split_logprobs(c, fmt)
        return out


@register
@dataclass(frozen=True)
class BudgetWait(CappedThinking):
    """s1 budget forcing both ways: cap at `max`; when the model closes thinking before `min` tokens,
    suppress `</think>` and append "Wait" (up to `waits` times) so that it thinks on."""

    name = "budget-wait"
    positional = "max"
    min: int = 128  # of min 128 and 192 on validation, equal accuracy for fewer tokens
    # (docs/findings/core-benchmark.md)
    waits: int = 1
    wait: str = "Wait"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.min < 0 or self.waits < 0:
            raise BrevityError(f"budget-wait: min and waits must be >= 0, got min={self.min} waits={self.waits}")

    def solve(self, problems, ctx: RunContext) -> list[Solution]:
        return capped(self, problems, ctx, min_tokens=self.min, waits=self.waits, wait=self.wait)


@register
@dataclass(frozen=True)
class NoWait(Method):
    """NoWait (Wang et al. 2025): ban reflection words while thinking (a logit bias of -100 on every
    token that spells one of `words`, separated by |), then answer normally."""

    name = "nowait"
    steers_thinking = True
    words: str = "Wait|Hmm|Alternatively|However|But|Check|Verify|Again|Oh|Maybe"

    def banned(self, engine) -> tuple[tuple[int, float], ...]:
        return banned_tokens(engine.tokenizer, self.words)

    def solve(self, problems, ctx: RunContext) -> list[Solution]:
        engine = ctx.engine
        base = prompts(problems, engine, steer=True)
        thoughts = new_thoughts(problems, ctx)
        room = max(0, self.max_tokens - self.answer_room(engine))
        comps = extend(engine, base, thoughts, list(range(len(problems))), [room] * len(problems),
                       logit_bias=self.banned(engine))
        for i, c in comps.items():
            if c.finish_reason == "length" and not thoughts[i].done:
                force_close(engine, thoughts[i])
        return answer(self, problems, ctx, base, thoughts)


@functools.lru_cache(maxsize=16)
def banned_tokens(tokenizer, words: str) -> tuple[tuple[int, float], ...]:
    """Logit biases banning every token that spells one of the words; decoding the whole vocabulary
    once per tokenizer, not once per batch (a real vocabulary has 150k tokens)."""
    wanted = {w.strip().lower() for w in words.split("|") if w.strip()}
    ids = sorted(i for i in tokenizer.get_vocab().values() if tokenizer.decode([i]).strip().lower() in wanted)
    if not ids:
        raise BrevityError(f"nowait: none of {sorted(wanted)} is a single token of this model's vocabulary; "
                           "name words its tokenizer keeps whole")
    return tuple((i, -100.0) for i in ids)


def capped(method: CappedThinking, problems, ctx: RunContext, min_tokens: int = 0, waits: int = 0,
           wait: str = "") -> list[Solution]:
    """Think up to the cap in batched rounds; a thought closed too early gets "Wait" instead of `</think>`
    while it has waits left; a thought that reaches the cap gets the phrase. Then answer."""
    engine = ctx.engine
    room = method.room(engine)
    base = prompts(problems, engine, steer=True)
    thoughts = new_thoughts(problems, ctx)
    used = [0] * len(problems)
    wait_len = len(encode(engine, wait)) if wait else 0
    active = list(range(len(problems))) if room else []
    while active:
        extend(engine, base, thoughts, active, [room - len(thoughts[i].ids) for i in active])
        nxt = []
        for i in active:
            t = thoughts[i]
            if t.closed and len(t.ids) < min_tokens and used[i] < waits and len(t.ids) + wait_len < room:
                inject(engine, t, wait)
                t.closed = t.done = False
                used[i] += 1
                nxt.append(i)
            elif not t.done:
                force_close(engine, t, method.closing(engine))
        active = nxt
    for i, t in enumerate(thoughts):
        if not t.done:  # room 0: the phrase fills the whole budget
            force_close(engine, t, method.closing(engine))
        if used[i]:
            t.extra["waits"] = used[i]
    return answer(method, problems, ctx, base, thoughts)
