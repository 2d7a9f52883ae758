"""Which of mult's written running sums an iCoT model gets right, split by how hard its hidden product is.

Usage: python benchmarks/icot_sums.py BENCH_DIR [BENCH_DIR ...]   (each holds a `records.jsonl` of mult:order=lsd
validation problems decoded with the terse chain)

Why: once iCoT hides the first partial product, the first running sum is the first written number that needs
it. Its accuracy, and the answer's, are given for every problem and for the problems whose multiplier's first
digit is 2 to 9 (a product the model must make internally; 0 gives zeros and 1 copies the multiplicand).
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from brevity.tasks.base import load_problems


def sums_written(thinking: str) -> list[str]:
    """The running sums of a terse chain, in the order written: the numbers in parentheses."""
    return re.findall(r"\((\d+)\)", thinking or "")


def main(dirs: list[str]) -> None:
    problems = {p.id: p for p in load_problems("mult", split="validation", n=2000, order="lsd")}
    print("| run | problems | first sum right | second sum right | answer right | "
          "hard (digit 2-9): n | first sum | answer |")
    print("|---|---|---|---|---|---|---|---|")
    for d in dirs:
        records = [json.loads(line) for line in open(Path(d) / "records.jsonl")]
        first = second = answer = hard = hard_first = hard_answer = 0
        for r in records:
            p = problems[r["problem_id"]]
            inter = p.metadata["intermediates"]  # products and sums, digits least significant first
            sums = sums_written(r["thinking"])
            # in a stage where part of the first sum is hidden, its written tail is not the sum: count it wrong
            ok1 = len(sums) == 2 and sums[0] == inter[2]
            ok2 = bool(sums) and sums[-1] == inter[4]
            first += ok1
            second += ok2
            answer += bool(r["correct"])
            multiplier = p.question.split("*")[1].split("?")[0].strip()
            if multiplier[0] not in "01":
                hard += 1
                hard_first += ok1
                hard_answer += bool(r["correct"])
        n = len(records)
        print(f"| {d} | {n} | {first} | {second} | {answer} | {hard} | {hard_first} | {hard_answer} |")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
