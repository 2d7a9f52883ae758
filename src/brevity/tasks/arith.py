"""GSM8K-style multi-step word problems with gold intermediate results and three trace styles.

The verbose style emulates an LRM that overthinks: it computes the answer, then re-checks it in
rounds. Real LRMs' trace lengths are heavy-tailed and only loosely tied to difficulty, so the
number of rounds is a fixed function of a surface feature (the item noun): most problems get one
round, a few get many. Being a function of the input, greedy decoding reproduces it. ``RECHECK_ROUNDS``
is the redundancy setting; it was fixed on gold validation traces before the zoo was trained.

Two more styles serve issue 22's members. ``sampled`` draws its rounds per problem from
Binomial(2m, 1/2), m the item's rounds: the same mean, but two samples of one question differ in
length, as real LRMs' do, so length rewards have something to choose between. ``brief`` stops at the
answer (no re-check), the short chain an instruct LLM writes.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

from brevity.tasks.base import SPLIT_OFFSET, Problem, register_task

DEFAULT_MAX_STEPS = 5
DEFAULT_SEED = 1234
ITEMS = ["apples", "marbles", "stickers", "coins", "books", "pencils", "cookies", "cards", "shells", "stamps"]
# Re-check rounds after the answer is first reached, by item. Fixed before training; it puts the
# first correct answer near the middle of the gold traces on average (docs/findings/core-benchmark.md).
RECHECK_ROUNDS = dict(zip(ITEMS, (1, 1, 1, 1, 1, 2, 2, 3, 5, 8)))
SLIP_PROB = 0.1
# Values stay under 100: the first zoo, trained with values up to 999, reached 19% with cot on
# validation (it could not learn 3-digit arithmetic in the CPU budget); see docs/findings/history.md.
MAX_VALUE = 99

NAMES = ["Tom", "Anna", "Liam", "Mia", "Noah", "Emma", "Omar", "Sara", "Ben", "Lily", "Ravi", "Zoe"]
FRIENDS = ["a friend", "a cousin", "the teacher", "a neighbor"]

ADD_TEMPLATES = [
    "Then {name} buys {x} more {items}.",
    "{name} finds {x} more {items}.",
    "After that, {friend} gives {name} {x} {items}.",
]
SUB_TEMPLATES = [
    "Then {name} gives {x} {items} to {friend}.",
    "{name} loses {x} of the {items}.",
    "After that, {name} sells {x} {items}.",
]
MUL_TEMPLATES = [
    "Then the number of {items} {name} has grows to {x} times as many.",
    "{name} ends up with {x} times as many {items} as before.",
]
DIV_TEMPLATES = [
    "Then {name} splits the {items} equally into {x} boxes and keeps one box.",
    "{name} shares the {items} equally among {x} kids, {name} included, and keeps one share.",
]
WORDS = {"+": "Adding {x} gives", "-": "Taking away {x} gives", "*": "Multiplying by {x} gives",
         "/": "Splitting into {x} equal parts gives"}
# One distinct opener per round, so a model can tell how far into its re-checking it is.
RECHECK_OPENERS = [
    "Wait, let me double-check.",
    "Hmm, let me verify that again.",
    "Wait, let me check once more to be sure.",
    "Hmm, maybe I should recompute everything.",
    "Wait, let me go over it one more time.",
    "Let me re-check each step carefully.",
    "Hmm, just to be safe, once more.",
    "Wait, one final check.",
]
SYMBOL = {"+": "+", "-": "-", "*": "*", "/": "/"}


@dataclass
class Step:
    op: str
    left: int
    x: int
    result: int

    def equation(self) -> str:
        return f"{self.left} {SYMBOL[self.op]} {self.x} = {self.result}"


def _apply(op: str, v: int, x: int) -> int:
    return {"+": v + x, "-": v - x, "*": v * x, "/": v // x}[op]


def _choose_step(rng: random.Random, v: int) -> Step:
    options = ["+"] if v <= MAX_VALUE - 2 else []
    if v >= 3:
        options.append("-")
    if v * 2 <= MAX_VALUE:
        options.append("*")
    if any(v % k == 0 for k in range(2, 6)) and v >= 4:
        options.append("/")
    op = rng.choice(options)
    if op == "+":
        x = rng.randint(2, min(30, MAX_VALUE - v))
    elif op == "-":
        x = rng.randint(1, v - 1)
    elif op == "*":
        x = rng.randint(2, min(5, MAX_VALUE // v))
    else:
        x = rng.choice([k for k in range(2, 6) if v % k == 0])
    return Step(op, v, x, _apply(op, v, x))


def _templates(op: str) -> list[str]:
    return {"+": ADD_TEMPLATES, "-": SUB_TEMPLATES, "*": MUL_TEMPLATES, "/": DIV_TEMPLATES}[op]


def _slip(rng: random.Random, value: int, gold: int) -> int:
    for _ in range(10):
        wrong = value + rng.choice([-10, -2, -1, 1, 2, 10])
        if wrong > 0 and wrong != value and wrong != gold:
            return wrong
    return value + 1 if value + 1 != gold else value + 3


def recheck_line(r: int, equations: list[str], gold: int | str) -> str:
    """Re-check round r (from 0) of a verbose trace: the round's opener, every equation again, the verdict."""
    checks = " ".join(f"{e}." for e in equations)
    return f"{RECHECK_OPENERS[r % len(RECHECK_OPENERS)]} {checks} Yes, {gold} is right."


def sampled_rounds(pid: str, mean: int) -> int:
    """Re-check rounds of the ``sampled`` style: Binomial(2 * mean, 1/2), drawn from the problem id so
    that the problem's own random stream (and so every other style) is unchanged."""
    rng = random.Random(f"{pid}/sampled-rounds")
    return sum(rng.random() < 0.5 for _ in range(2 * mean))


def make_problem(rng: random.Random, steps: int, pid: str, recheck_rounds: dict[str, int] | None = None,
                 slip_prob: float = SLIP_PROB) -> Problem | None:
    """One problem; None when the gold answer would appear in the trace before it is computed."""
    name, items, friend = rng.choice(NAMES), rng.choice(ITEMS), rng.choice(FRIENDS)
    start = rng.randint(2, 40)
    chain: list[Step] = []
    v = start
    for _ in range(steps):
        s = _choose_step(rng, v)
        chain.append(s)
        v = s.result
    gold = v
    earlier = [start] + [s.x for s in chain] + [s.result for s in chain[:-1]]
    if gold in earlier:
        return None
    sentences = [f"{name} has {start} {items}."]
    for s in chain:
        sentences.append(rng.choice(_templates(s.op)).format(name=name, items=items, friend=friend, x=s.x))
    question = " ".join(sentences) + f" How many {items} does {name} have now?"

    lines = [f"Okay, so I need to find how many {items} {name} has at the end. Let me go step by step.",
             f"{name} starts with {start} {items}."]
    slips = 0
    for s in chain:
        phrase = WORDS[s.op].format(x=s.x)
        if rng.random() < slip_prob:
            wrong = _slip(rng, s.result, gold)
            lines.append(f"{phrase} {s.left} {SYMBOL[s.op]} {s.x} = {wrong}. Wait, no, that's wrong. "
                         f"{s.equation()}.")
            slips += 1
        else:
            lines.append(f"{phrase} {s.equation()}.")
    lines.append(f"So {name} has {gold} {items}.")
    rounds = (recheck_rounds or RECHECK_ROUNDS)[items]
    equations = [s.equation() for s in chain]
    verbose = "\n".join(lines + [recheck_line(r, equations, gold) for r in range(rounds)])
    sampled = "\n".join(lines + [recheck_line(r, equations, gold) for r in range(sampled_rounds(pid, rounds))])
    compact = " ".join(f"<<{s.left}{SYMBOL[s.op]}{s.x}={s.result}>>" for s in chain)
    return Problem(
        id=pid,
        question=question,
        answer=str(gold),
        metadata={"steps": steps, "intermediates": [s.result for s in chain],
                  "equations": [s.equation() for s in chain], "slips": slips, "recheck_rounds": rounds},
        traces={"verbose": verbose, "sampled": sampled, "brief": "\n".join(lines), "compact": compact, "none": ""},
    )


@register_task(
    "arith",
    "GSM8K-style word problems: a start value then 1..max_steps operations (+, -, *, exact /), "
    f"values 1..{MAX_VALUE}; default mix uniform over 1..{DEFAULT_MAX_STEPS} steps (steps=K fixes K). "
    "Verbose traces re-check the answer in rounds set by the item noun (heavy-tailed: "
    f"{RECHECK_ROUNDS}) and slip-and-correct with probability {SLIP_PROB} per step.",
)
def arith(split: str = "test", seed: int = DEFAULT_SEED, max_steps: int = DEFAULT_MAX_STEPS,
          steps: int | None = None) -> Iterator[Problem]:
    """Deterministic stream of problems; problem i of a split is always the same problem."""
    difficulty = f"s{steps}" if steps else f"mix1-{max_steps}"
    i = 0
    while True:
        rng = random.Random(f"arith/{seed + SPLIT_OFFSET[split]}/{difficulty}/{i}")
        k = steps or rng.randint(1, max_steps)
        p = None
        while p is None:
            p = make_problem(rng, k, f"arith/{difficulty}/{seed}/{split}/{i}")
        yield p
        i += 1
