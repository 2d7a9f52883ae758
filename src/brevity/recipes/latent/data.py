"""Latent-reasoning examples from a task's chain (its `compact` trace, or another style such as `mult`'s
`terse`, iCoT's own format): the question prompt with `<bot>`, a number of continuous thoughts standing for the
first steps, then the remaining steps, `</think>` and the answer."""

from __future__ import annotations

import re
from dataclasses import dataclass

from brevity.methods.latent import BOT
from brevity.tasks import Problem
from brevity.zoo.chat import END_THINK, IM_END, answer_text, prompt_text

STEP = re.compile(r"<<[^>]*>>")
SENTENCE = re.compile(r"[^.]+\.")
TERM = re.compile(r" (?=\+ )")


def split_steps(chain: str) -> list[str]:
    """A chain's steps: GSM8K-Aug equations `<<a*b=c>>` (`arith`, `mult`), else its sentences (`graph`:
    "Alex is a wumpus."), else its `+` terms (`mult`'s terse chain: `+ 049824 (635754)`, a partial product
    and the sum through it). Joined by spaces, the steps give the chain back."""
    return (STEP.findall(chain) or [s.strip() for s in SENTENCE.findall(chain)]
            or [s.strip() for s in TERM.split(chain) if s.strip()])


def chain_steps(problem: Problem, chain: str = "compact") -> list[str]:
    """The steps of the problem's gold chain in trace style `chain`."""
    return split_steps(problem.traces.get(chain, ""))


@dataclass
class LatentExample:
    prefix: list[int]  # prompt + <bot>
    thoughts: int  # continuous thoughts
    rest: list[int]  # <eot>, remaining steps, </think>, the answer: loss on all but <eot>


def latent_example(problem: Problem, tokenizer, replaced: int, per_step: int,
                   thoughts: int | None = None, chain: str = "compact") -> LatentExample:
    """Replace the first `replaced` steps (all of them if the chain is shorter) by replaced*per_step
    thoughts (or `thoughts`): the count does not depend on the chain's length, unknown at inference."""
    steps = chain_steps(problem, chain)
    k = min(replaced, len(steps))
    left = " ".join(steps[k:])
    rest = ("" if not left else f"{left}\n") + f"{END_THINK}\n\n{answer_text(problem.answer)}{IM_END}"
    enc = tokenizer([prompt_text(problem.question), rest], add_special_tokens=False).input_ids
    bot, eot = tokenizer.convert_tokens_to_ids([BOT, "<eot>"])
    return LatentExample(enc[0] + [bot], replaced * per_step if thoughts is None else thoughts, [eot] + enc[1])


def _rest_ids(tokenizer, steps_text: str, answer: str) -> tuple[list[int], int]:
    """`<eot>`, what is left of the chain, `</think>` and the answer, as ids; and the index (in them) of the
    position that predicts the answer's value, where CODI aligns teacher and student.

    That is the answer's own position, not the token before it: a tokenizer that writes the space before a
    number as a token of its own (this zoo's, Llama's, Qwen's) would otherwise align the state that
    predicts a constant space. The official code adds one position for such tokenizers; here the first
    token of the value's text that is not blank is found, which covers both kinds."""
    head = ("" if not steps_text else f"{steps_text}\n") + f"{END_THINK}\n\n" + answer_text(answer).rsplit(" ", 1)[0]
    tail = " " + answer_text(answer).rsplit(" ", 1)[1] + IM_END
    a, b = tokenizer([head, tail], add_special_tokens=False).input_ids
    eot = tokenizer.convert_tokens_to_ids("<eot>")
    return [eot] + a + b, len(a) + value_offset(tokenizer, b)


def value_offset(tokenizer, ids: list[int]) -> int:
    """Index of the first of `ids` whose text is not blank (0 when a token carries the space and the digits)."""
    return next((j for j in range(len(ids)) if tokenizer.decode(ids[:j + 1]).strip()), 0)


def icot_example(problem: Problem, tokenizer, removed: int, chain: str = "compact") -> LatentExample:
    """iCoT (Deng et al. 2024): the chain with its first `removed` tokens cut away, no thoughts."""
    ids = tokenizer(" ".join(chain_steps(problem, chain)), add_special_tokens=False).input_ids[removed:]
    text = tokenizer.decode(ids).strip()
    prefix = tokenizer(prompt_text(problem.question), add_special_tokens=False).input_ids
    rest, _ = _rest_ids(tokenizer, text, problem.answer)
    return LatentExample(prefix + [tokenizer.convert_tokens_to_ids(BOT)], 0, rest)


@dataclass
class CodiExample:
    teacher: LatentExample  # the full compact chain, no thoughts
    student: LatentExample  # `thoughts` continuous thoughts, then the answer
    teacher_at: int  # index in teacher.rest / student.rest of the position that predicts the answer's value
    student_at: int


def codi_example(problem: Problem, tokenizer, thoughts: int, chain: str = "compact") -> CodiExample:
    prefix = tokenizer(prompt_text(problem.question), add_special_tokens=False).input_ids
    prefix = prefix + [tokenizer.convert_tokens_to_ids(BOT)]
    t_rest, t_at = _rest_ids(tokenizer, " ".join(chain_steps(problem, chain)), problem.answer)
    s_rest, s_at = _rest_ids(tokenizer, "", problem.answer)
    return CodiExample(LatentExample(prefix, 0, t_rest), LatentExample(prefix, thoughts, s_rest), t_at, s_at)
