"""k-by-k multiplication (the iCoT benchmark) with a partial-product chain of thought.

`order=lsd` writes every number least significant digit first, as iCoT's data does (Deng et al.):
then each digit of a partial product or a sum depends only on digits already written and a carry,
which a small transformer can learn; in the usual order the carry comes from digits not yet written.

Traces: `compact` writes each step as an equation (`<<9417*06=049824>>`, 140 tokens for 4-by-4 with the zoo
tokenizer); `terse` is iCoT's own chain (Deng et al.'s data, e.g. `33582 + 099558 (325488) + ...`): every
partial product shifted and zero-padded to k+1+i digits, each running sum in parentheses after it, the last
sum left to the answer (about a third of the tokens; iCoT removes its chain one token at a time).
"""

from __future__ import annotations

import random
from collections.abc import Iterator

from brevity.tasks.base import SPLIT_OFFSET, Problem, register_task

ORDERS = ("msd", "lsd")


def running_sums(a: int, b: int, k: int) -> list[int]:
    """The running sums c_hat_0 .. c_hat_(2k-1) of a * b (Bai et al. 2025, arXiv 2510.00184): with a_i, b_j the
    digits least significant first, s_m = sum of a_i * b_j over i + j = m, c_hat_m = s_m + floor(c_hat_(m-1) / 10)
    (c_hat_(-1) = 0). c_hat_m mod 10 is the product's digit m, so a model that writes the product least
    significant digit first must hold c_hat_m where it writes digit m."""
    da = [int(d) for d in str(a).zfill(k)[::-1]]
    db = [int(d) for d in str(b).zfill(k)[::-1]]
    out, carry = [], 0
    for m in range(2 * k):
        c = sum(da[i] * db[m - i] for i in range(max(0, m - k + 1), min(m, k - 1) + 1)) + carry
        out.append(c)
        carry = c // 10
    return out


def make_problem(rng: random.Random, k: int, pid: str, order: str = "msd") -> Problem:
    w = (lambda n: str(n)[::-1]) if order == "lsd" else str  # how a number is written
    a = rng.randint(10 ** (k - 1), 10**k - 1)
    b = rng.randint(10 ** (k - 1), 10**k - 1)
    steps, terse, total = [], [], 0
    for place, digit in enumerate(reversed(str(b))):
        partial = a * int(digit) * 10**place
        width = k + 1 + place  # iCoT's fixed widths: a partial product and the sum through it
        terse.append(w(partial).ljust(width, "0") if order == "lsd" else str(partial).zfill(width))
        if place and place < k - 1:
            pad = w(total + partial).ljust(width, "0") if order == "lsd" else str(total + partial).zfill(width)
            terse[-1] += f" ({pad})"
        multiplier = int(digit) * 10**place
        steps.append(f"<<{w(a)}*{'0' * place + digit if order == 'lsd' else multiplier}={w(partial)}>>")
        if place:
            steps.append(f"<<{w(total)}+{w(partial)}={w(total + partial)}>>")
        total += partial
    written = [s.split("=")[1].rstrip(">") for s in steps]  # as the chain writes them (explain compares text)
    intermediates = written if order == "lsd" else [int(x) for x in written]
    chain = " ".join(steps)
    note = " (digits least significant first)" if order == "lsd" else ""
    return Problem(id=pid, question=f"What is {w(a)} * {w(b)}?{note}", answer=w(a * b),
                   metadata={"k": k, "steps": len(steps), "intermediates": intermediates, "order": order,
                             "running_sums": running_sums(a, b, k)},
                   traces={"compact": chain, "verbose": chain, "terse": " + ".join(terse), "none": ""})


@register_task("mult", "k-by-k multiplication (default k=4); the chain lists partial products and running sums; "
                       "order=lsd writes numbers least significant digit first, as iCoT does.")
def mult(split: str = "test", seed: int = 1234, k: int = 4, order: str = "msd") -> Iterator[Problem]:
    if order not in ORDERS:
        from brevity.errors import BrevityError
        raise BrevityError(f"mult: order must be one of {', '.join(ORDERS)}, not {order!r}")
    i = 0
    tag = "" if order == "msd" else f"/{order}"
    while True:
        rng = random.Random(f"mult/{seed + SPLIT_OFFSET[split]}/{k}/{i}")
        yield make_problem(rng, k, f"mult/k{k}{tag}/{seed}/{split}/{i}", order)
        i += 1
