"""Prompt-level methods: the same full-thinking decode as `cot`, with an instruction in the prompt.

The templates are data (`prompts.toml`). Each simple template becomes a registered method whose
parameters are the template's placeholders (`ccot:words=30`, `l1:200`, `tokenskip:0.5`); TALE-EP
(estimate a budget, then solve within it) and SoT (a router picks the paradigm) add one step of code
each. These instructions only change what an instruction-following model does: on the tiny zoo that
is `tiny-lrm-instruct`, trained to follow exactly these templates (recipes/instruct.py).
"""

from __future__ import annotations

import functools
import re
import time
import tomllib
from dataclasses import dataclass, field, make_dataclass
from pathlib import Path

from brevity.engines.base import Request
from brevity.errors import BrevityError
from brevity.methods.base import Method, RunContext, register
from brevity.methods.budget import CoT
from brevity.methods.solution import Solution
from brevity.tasks import Problem

TEMPLATES_FILE = Path(__file__).with_name("prompts.toml")
ESTIMATE_TOKENS = 16  # room for TALE-EP's budget estimate


@functools.cache
def templates() -> dict:
    return tomllib.loads(TEMPLATES_FILE.read_text())


def chat(user: str, system: str | None = None) -> list[dict[str, str]]:
    return ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": user}]


def render_template(name: str, question: str, **params) -> list[dict[str, str]]:
    """The chat messages of template `name` for one question (the model's format renders them; the
    instruct recipe trains on exactly these)."""
    t = templates()[name]
    user = t.get("user", "{question}").format(question=question, **params)
    return chat(user, system=t.get("system"))


@dataclass(frozen=True)
class Prompted(CoT):
    """`cot` with a template's instruction; subclasses are made from prompts.toml."""

    def __post_init__(self) -> None:
        super().__post_init__()
        for k in templates()[self.name].get("params", {}):  # lengths, word limits, ratios: all positive
            if getattr(self, k) <= 0:
                raise BrevityError(f"{self.name}: {k} must be positive, got {getattr(self, k)}")
        if self.name == "tokenskip" and self.gamma > 1:
            raise BrevityError(f"tokenskip: gamma is a kept fraction in (0, 1], got {self.gamma}")

    def render(self, problem: Problem, fmt) -> list[dict[str, str]]:
        if self.name == "tokenskip" and self.gamma >= 1.0:
            return super().render(problem, fmt)  # TokenSkip trains gamma 1.0 on the plain prompt
        params = {k: getattr(self, k) for k in templates()[self.name].get("params", {})}
        return render_template(self.name, fmt.question(problem.question, problem.instructed), **params)


def _make_prompted(name: str, t: dict) -> type[Method]:
    fields = [(k, type(v), field(default=v)) for k, v in t.get("params", {}).items()]
    cls = make_dataclass(name.replace("-", "_").title(), fields, bases=(Prompted,), frozen=True,
                         namespace={"name": name, "positional": t.get("positional"), "__doc__": t["about"]})
    return register(cls)


for _name, _t in templates().items():
    if "estimate" not in _t and "paradigms" not in _t:
        _make_prompted(_name, _t)


@register
@dataclass(frozen=True)
class TaleEP(CoT):
    """TALE-EP: one call asks the model for a token budget, a second solves with it in the prompt. The
    estimate's tokens are overhead, reported in the probe columns."""

    name = "tale-ep"

    def solve(self, problems, ctx: RunContext) -> list[Solution]:
        engine = ctx.engine
        tok = engine.tokenizer
        t = templates()[self.name]
        fmt = engine.format  # the estimate is a direct answer: thinking off, the family's way
        ask = [tuple(fmt.encode(fmt.render(chat(t["estimate"].format(question=p.question)), thinking=False)))
               for p in problems]
        t0 = time.perf_counter()
        comps = engine.complete([Request(a, ESTIMATE_TOKENS) for a in ask])
        share = (time.perf_counter() - t0) / max(1, len(problems))
        budgets = []
        for c in comps:
            m = re.search(r"\d+", tok.decode(c.token_ids, skip_special_tokens=True))
            budgets.append(int(m.group()) if m else None)
        by_id = {p.id: b for p, b in zip(problems, budgets)}  # this batch's estimates: the method stays unchanged
        sols = self.solve_rendered(problems, ctx, lambda p, fmt: self.render_budget(p, fmt, by_id.get(p.id)))
        for s, a, c, b in zip(sols, ask, comps, budgets):
            s.probe_tokens, s.probe_seconds = len(a) + len(c.token_ids), share
            s.extra["estimate"] = b
        return sols

    def render_budget(self, problem: Problem, fmt, budget: int | None) -> list[dict[str, str]]:
        if budget is None:  # no number came back: solve without a budget, as the paper's fallback
            return fmt.messages(problem.question, instruct=problem.instructed)
        question = fmt.question(problem.question, problem.instructed)
        return chat(templates()[self.name]["user"].format(question=question, budget=budget))


def sot_paradigm(question: str) -> str:
    """The router: the first rule of prompts.toml whose pattern matches the question."""
    for rule in templates()["sot"]["router"]:
        if re.search(rule["pattern"], question):
            return rule["paradigm"]
    raise AssertionError("prompts.toml: the last SoT router rule must match everything")


@register
@dataclass(frozen=True)
class SketchOfThought(CoT):
    """SoT: the router's paradigm prompt as the system message, then full-thinking decoding."""

    name = "sot"

    def render(self, problem: Problem, fmt) -> list[dict[str, str]]:
        paradigm = templates()["sot"]["paradigms"][sot_paradigm(problem.question)]
        return chat(fmt.question(problem.question, problem.instructed), system=paradigm)

    def solve(self, problems, ctx: RunContext) -> list[Solution]:
        sols = super().solve(problems, ctx)
        for s, p in zip(sols, problems):
            s.extra["paradigm"] = sot_paradigm(p.question)
        return sols
