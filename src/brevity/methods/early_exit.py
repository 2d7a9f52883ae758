"""Dynamic early exit: stop thinking once a trial answer, induced by closing thinking early, looks
settled. `deer` probes at reasoning transition points and trusts the answer's token confidence
(Yang et al. 2025, DEER); `dynasor` probes every few tokens and trusts agreement between
consecutive probes (Fu et al. 2025, Dynasor-CoT).

Probes never recompute the prefix on a prefix-caching engine: the `hf` engine's cache holds the
thought they continue, and so does vLLM's automatic prefix caching behind the `openai` engine (on
by default in vLLM's V1 engine). Probe tokens and time are reported in their own columns.
"""

from __future__ import annotations

from dataclasses import dataclass

from brevity.errors import BrevityError
from brevity.methods.base import Method, RunContext, register
from brevity.methods.control import (
    Thought,
    answer,
    encode,
    extend,
    force_close,
    inject,
    new_thoughts,
    probe,
    prompts,
)
from brevity.methods.solution import Solution


@dataclass(frozen=True)
class EarlyExit(Method):
    steers_thinking = True
    # Text after the closing marker that makes the model state its answer, and where that answer ends;
    # "" takes the model's format's (the zoo: "The answer is" ... "."; R1, Qwen: "**Final Answer**\n\boxed{" ... "}").
    inducer: str = ""
    answer_end: str = ""
    budget: int = 0  # a cap on thinking tokens as `budget:N` sets it, the closing phrase included (0: none)
    # No trial answer, so no exit, before this many thinking tokens: a safety guard that keeps the thinking up to
    # where a model decides to refuse (the gateway's `safety_floor`; docs/methods/safety.md). 0: none.
    floor: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.budget < 0 or self.floor < 0:
            raise BrevityError(f"{self.name}: budget and floor must be >= 0 tokens (0: none), got budget "
                               f"{self.budget}, floor {self.floor}")

    def check(self, engine) -> None:
        super().check(engine)
        self._room(engine)

    def _room(self, engine) -> int:
        room = self.max_tokens - self.answer_room(engine)
        if room < 0:
            raise BrevityError(f"{self.name}: max_tokens {self.max_tokens} leaves no room to think after the "
                               f"{self.answer_room(engine)} answer tokens; raise max_tokens or lower answer tokens")
        if self.budget:
            room = min(room, self.budget - len(encode(engine, engine.format.spec.forced_close)))
        if room < 0:
            raise BrevityError(f"{self.name}: budget {self.budget} is smaller than the closing phrase; raise it")
        return room

    def _start(self, problems, ctx: RunContext):
        engine = ctx.engine
        engine.format.require_thinking(self.name)
        base = prompts(problems, engine, steer=True)
        return engine, base, new_thoughts(problems, ctx), self._room(engine)

    def _probe(self, engine, base, thoughts, active):
        """Trial answers the model's format's way, unless the spec names its own inducer; none for a thought still
        under the floor."""
        active = [i for i in active if len(thoughts[i].ids) >= self.floor]
        spec = engine.format.spec
        suffix = engine.format.close_ids + encode(engine, self.inducer or spec.after_close + spec.inducer)
        return probe(engine, base, thoughts, active, spec.exit_text, suffix, self.answer_end or spec.answer_end)

    def _exit(self, engine, thought: Thought, why: str) -> None:
        """Thinking ends here, with what the model itself writes before its closing marker."""
        if engine.format.spec.exit_text or thought.tail:
            inject(engine, thought, engine.format.spec.exit_text)
        thought.done = True
        thought.extra["exit"] = why


@register
@dataclass(frozen=True)
class Deer(EarlyExit):
    """At each transition point (a line starting with one of `words`, separated by |), induce a trial
    answer; exit when the mean probability of its tokens reaches `threshold`, else continue thinking
    from the transition word. After `probes` probes, think on to the end without probing."""

    name = "deer"
    positional = "threshold"
    threshold: float = 0.95  # DEER's default; 0.8 to 0.99 gave the same validation result here
    words: str = "Wait"
    probes: int = 10

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0 < self.threshold <= 1:
            raise BrevityError(f"deer: threshold must be in (0, 1], got {self.threshold}")
        if not [w for w in self.words.split("|") if w.strip()]:
            raise BrevityError("deer: words must name at least one transition word, e.g. words=Wait|Hmm")

    def solve(self, problems, ctx: RunContext) -> list[Solution]:
        engine, base, thoughts, room = self._start(problems, ctx)
        points = tuple("\n" + w.strip() for w in self.words.split("|") if w.strip())
        active = list(range(len(problems))) if room > 0 else []
        while active:
            probing = [i for i in active if thoughts[i].probes < self.probes]
            plain = [i for i in active if thoughts[i].probes >= self.probes]
            comps = extend(engine, base, thoughts, probing, [room - len(thoughts[i].ids) for i in probing],
                           stop=points)
            comps |= extend(engine, base, thoughts, plain, [room - len(thoughts[i].ids) for i in plain])
            at_point = [i for i, c in comps.items() if c.stop_reason in points]
            for i, c in comps.items():
                if c.finish_reason == "length" and not thoughts[i].done:
                    force_close(engine, thoughts[i])
            trials = self._probe(engine, base, thoughts, at_point)
            for i in at_point:
                trial = trials.get(i)  # none under the floor: think on
                if trial is not None and trial.value is not None and trial.confidence >= self.threshold:
                    self._exit(engine, thoughts[i], "confident")
                elif len(thoughts[i].ids) + len(encode(engine, comps[i].stop_reason)) <= room:
                    inject(engine, thoughts[i], comps[i].stop_reason)  # think on, as if the probe never happened
                else:  # the transition word would not fit in the budget
                    force_close(engine, thoughts[i])
            active = [i for i in active if not thoughts[i].done and len(thoughts[i].ids) < room]
        for t in thoughts:
            if not t.done:
                force_close(engine, t)
        return answer(self, problems, ctx, base, thoughts)


@register
@dataclass(frozen=True)
class Dynasor(EarlyExit):
    """Every `every` thinking tokens, induce a trial answer; exit when the last `agree` trial answers
    are the same number."""

    name = "dynasor"
    positional = "every"
    every: int = 32  # the most saving setting within 1 point of cot on validation (docs/findings/core-benchmark.md)
    agree: int = 3

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.every <= 0 or self.agree < 1:
            raise BrevityError(f"dynasor: every must be > 0 and agree >= 1, got every={self.every} "
                               f"agree={self.agree}")

    def solve(self, problems, ctx: RunContext) -> list[Solution]:
        engine, base, thoughts, room = self._start(problems, ctx)
        history: list[list[str | None]] = [[] for _ in problems]
        active = list(range(len(problems))) if room > 0 else []
        while active:
            comps = extend(engine, base, thoughts, active,
                           [min(self.every, room - len(thoughts[i].ids)) for i in active])
            for i in active:
                if not thoughts[i].done and len(thoughts[i].ids) >= room:
                    force_close(engine, thoughts[i])
            open_ = [i for i in comps if not thoughts[i].done]
            for i, trial in self._probe(engine, base, thoughts, open_).items():
                history[i].append(trial.value)
                last = history[i][-self.agree:]
                if len(last) == self.agree and last[0] is not None and len(set(last)) == 1:
                    self._exit(engine, thoughts[i], "consistent")
            active = [i for i in active if not thoughts[i].done]
        for t in thoughts:
            if not t.done:  # room 0: the phrase fills the whole budget
                force_close(engine, t)
        return answer(self, problems, ctx, base, thoughts)
