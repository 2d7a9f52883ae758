"""Decode-time thinking control: full thinking (`cot`), none (`nothink`), and a hard budget with a
forced answer (`budget:N`, the Qwen3 / s1 recipe)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from brevity.engines.base import Engine, ProgressFn, Request
from brevity.errors import BrevityError
from brevity.methods.base import Method, register
from brevity.methods.solution import Solution
from brevity.tasks import Problem
from brevity.thinking import split_completion
from brevity.zoo.chat import END_THINK, prompt_text

ANSWER_TOKENS = 48  # room for the answer after thinking is closed


def prompts(problems: Sequence[Problem], engine: Engine) -> list[tuple[int, ...]]:
    """Token-id prompts via the model's own chat template, so every engine sees the same ids."""
    tok = engine.tokenizer
    return [tuple(tok(prompt_text(p.question), add_special_tokens=False).input_ids) for p in problems]


@register
@dataclass
class CoT(Method):
    """Think until the model closes thinking itself, then answer."""

    name = "cot"

    def solve(self, problems, engine, progress: ProgressFn | None = None) -> list[Solution]:
        reqs = [Request(p, self.max_tokens) for p in prompts(problems, engine)]
        out = []
        for prob, c in zip(problems, engine.complete(reqs, progress)):
            s = split_completion(c.token_ids, engine.tokenizer)
            out.append(self.make_solution(prob, engine, s.thinking_ids, s.answer_ids, c.finish_reason,
                                          forward_passes=len(c.token_ids)))
        return out


@register
@dataclass
class NoThink(Method):
    """NoThinking (Ma et al. 2025): prefill an empty thinking span and let the model answer."""

    name = "nothink"

    def solve(self, problems, engine, progress: ProgressFn | None = None) -> list[Solution]:
        close = tuple(engine.tokenizer(f"{END_THINK}\n\n", add_special_tokens=False).input_ids)
        reqs = [Request(p + close, ANSWER_TOKENS) for p in prompts(problems, engine)]
        out = []
        for prob, c in zip(problems, engine.complete(reqs, progress)):
            ans = c.token_ids[:-1] if c.finish_reason == "stop" and c.stop_reason is None else c.token_ids
            out.append(self.make_solution(prob, engine, [], ans, c.finish_reason, forward_passes=len(c.token_ids)))
        return out


@register
@dataclass
class Budget(Method):
    """Cap thinking at `max` tokens, the injected transition phrase included; when the cap is hit,
    close thinking with the phrase and `</think>` and let the model answer."""

    name = "budget"
    positional = "max"
    max: int = 256
    phrase: str = "\nOkay, time is up. Let me give the answer.\n"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.max <= 0:
            raise BrevityError(f"budget: max must be a positive number of tokens, got {self.max}")

    def solve(self, problems, engine, progress: ProgressFn | None = None) -> list[Solution]:
        return think_then_answer(self, problems, engine, self.max, progress)


def think_then_answer(method: Method, problems, engine: Engine, budget: int,
                      progress: ProgressFn | None = None) -> list[Solution]:
    """Phase 1 thinks up to the budget (stopping at `</think>`); phase 2 closes thinking, with the
    method's phrase if the budget ran out, and answers. Phase 2 continues phase 1's token ids, so a
    prefix-caching engine pays only for the new tokens."""
    tok = engine.tokenizer
    phrase = tuple(tok(method.phrase, add_special_tokens=False).input_ids)
    end = (tok.convert_tokens_to_ids(END_THINK),)
    room = budget - len(phrase)
    if room < 0:
        raise BrevityError(f"{method.name}: budget {budget} is smaller than the {len(phrase)}-token transition "
                           "phrase; raise the budget or shorten the phrase")
    base = prompts(problems, engine)
    # A budget that the phrase fills entirely needs no thinking call at all.
    first = engine.complete([Request(p, room, stop=(END_THINK,)) for p in base]) if room else [None] * len(base)
    second_reqs, thoughts = [], []
    for p, c in zip(base, first):
        thinking = list(c.token_ids) if c else []
        closed = c is not None and c.stop_reason == END_THINK
        if not closed:
            thinking += list(phrase)
        thoughts.append((thinking, closed))
        second_reqs.append(Request(p + tuple(thinking) + end, ANSWER_TOKENS))
    second = engine.complete(second_reqs, progress)
    out = []
    for prob, c1, c2, (thinking, closed) in zip(problems, first, second, thoughts):
        s = split_completion(list(end) + c2.token_ids, tok)
        out.append(method.make_solution(prob, engine, thinking, s.answer_ids, c2.finish_reason,
                                        forward_passes=(len(c1.token_ids) if c1 else 0) + len(c2.token_ids),
                                        forced=not closed))
    return out
