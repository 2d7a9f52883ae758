"""Latent-reasoning examples from a task's compact chain: the question prompt with `<bot>`, a number of
continuous thoughts standing for the first steps, then the remaining steps, `</think>` and the answer."""

from __future__ import annotations

import re
from dataclasses import dataclass

from brevity.methods.latent import BOT
from brevity.tasks import Problem
from brevity.zoo.chat import END_THINK, IM_END, answer_text, prompt_text

STEP = re.compile(r"<<[^>]*>>")


def chain_steps(problem: Problem) -> list[str]:
    """The compact chain's steps (GSM8K-Aug equations `<<a*b=c>>`, as `arith` and `mult` write them)."""
    return STEP.findall(problem.traces.get("compact", ""))


@dataclass
class LatentExample:
    prefix: list[int]  # prompt + <bot>
    thoughts: int  # continuous thoughts
    rest: list[int]  # <eot>, remaining steps, </think>, the answer: loss on all but <eot>


def latent_example(problem: Problem, tokenizer, replaced: int, per_step: int) -> LatentExample:
    """Replace the first `replaced` steps (all of them if the chain is shorter) by replaced*per_step
    thoughts: the count does not depend on the chain's length, which is unknown at inference."""
    steps = chain_steps(problem)
    k = min(replaced, len(steps))
    left = " ".join(steps[k:])
    rest = ("" if not left else f"{left}\n") + f"{END_THINK}\n\n{answer_text(problem.answer)}{IM_END}"
    enc = tokenizer([prompt_text(problem.question), rest], add_special_tokens=False).input_ids
    bot, eot = tokenizer.convert_tokens_to_ids([BOT, "<eot>"])
    return LatentExample(enc[0] + [bot], replaced * per_step, [eot] + enc[1])
