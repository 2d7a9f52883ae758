"""Where does a model's arithmetic go wrong? Checks every equation of the first pass of its `cot`
traces (before "So ... has") and prints the share that is right, per operation, with carries and
borrows apart. Used to choose the zoo's training length (docs/findings/history.md).

    python benchmarks/arith_errors.py tiny-lrm --n 200
"""

from __future__ import annotations

import argparse
import re
from collections import defaultdict

from brevity.engines.hf import HFEngine
from brevity.methods import build_method
from brevity.tasks import load_problems
from brevity.zoo import resolve_model


def kind(left: int, op: str, x: int) -> str:
    if op == "+" and left % 10 + x % 10 >= 10:
        return "+ carry"
    if op == "-" and left % 10 < x % 10:
        return "- borrow"
    return op


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model")
    ap.add_argument("--n", type=int, default=200)
    args = ap.parse_args()
    engine = HFEngine(resolve_model(args.model), batch_size=32)
    problems = load_problems("arith", split="validation", n=args.n)
    sols = build_method("cot").run(problems, engine)
    right: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for s in sols:
        first = s.thinking.split("\nSo ")[0]
        for a, op, b, r in re.findall(r"(\d+) ([-+*/]) (\d+) = (\d+)\.", first):
            a, b, r = int(a), int(b), int(r)
            true = {"+": a + b, "-": a - b, "*": a * b, "/": a // b}[op]
            right[kind(a, op, b)][0] += true == r
            right[kind(a, op, b)][1] += 1
    acc = sum(s.correct for s in sols) / len(sols)
    print(f"{args.model}: cot accuracy {100 * acc:.1f}% on {len(sols)} validation problems")
    for k in ("+", "+ carry", "-", "- borrow", "*", "/"):
        ok, n = right.get(k, (0, 0))
        print(f"  {k:9} {ok:4}/{n:<4} right" + (f" ({100 * ok / n:.0f}%)" if n else ""))


if __name__ == "__main__":
    main()
