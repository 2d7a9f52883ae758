"""k-by-k multiplication (the iCoT benchmark) with a partial-product chain of thought."""

from __future__ import annotations

import random
from collections.abc import Iterator

from brevity.tasks.base import SPLIT_OFFSET, Problem, register_task


def make_problem(rng: random.Random, k: int, pid: str) -> Problem:
    a = rng.randint(10 ** (k - 1), 10**k - 1)
    b = rng.randint(10 ** (k - 1), 10**k - 1)
    steps, total = [], 0
    for place, digit in enumerate(reversed(str(b))):
        partial = a * int(digit) * 10**place
        steps.append(f"<<{a}*{int(digit) * 10**place}={partial}>>")
        if place:
            steps.append(f"<<{total}+{partial}={total + partial}>>")
        total += partial
    intermediates = [int(s.split("=")[1].rstrip(">")) for s in steps]
    chain = " ".join(steps)
    return Problem(id=pid, question=f"What is {a} * {b}?", answer=str(a * b),
                   metadata={"k": k, "steps": len(steps), "intermediates": intermediates},
                   traces={"compact": chain, "verbose": chain, "none": ""})


@register_task("mult", "k-by-k multiplication (default k=4); the chain lists partial products and running sums.")
def mult(split: str = "test", seed: int = 1234, k: int = 4) -> Iterator[Problem]:
    i = 0
    while True:
        rng = random.Random(f"mult/{seed + SPLIT_OFFSET[split]}/{k}/{i}")
        yield make_problem(rng, k, f"mult/k{k}/{seed}/{split}/{i}")
        i += 1
