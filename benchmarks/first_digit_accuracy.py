"""Right answers by the digit the first chain step multiplies by (`mult`: the second number's units
digit): does a model that holds step 1 in a thought succeed only where that product needs no value (0)?
Prints, per records file, digit: right/problems.

    python benchmarks/first_digit_accuracy.py mult:order=lsd brevity-runs/latent-mult-lsd/val-coconut-s1/records.jsonl
"""

import collections
import json
import sys

from brevity.cli import parse_task
from brevity.recipes.latent.data import chain_steps
from brevity.tasks import load_problems

task = parse_task(sys.argv[1])
for path in sys.argv[2:]:
    records = [json.loads(line) for line in open(path) if line.strip()]
    split = records[0]["problem_id"].split("/")[-2]
    problems = {p.id: p for p in load_problems(task.name, split=split, n=len(records), **dict(task.params))}
    right, total = collections.Counter(), collections.Counter()
    for r in records:
        first = chain_steps(problems[r["problem_id"]])[0]
        digit = first.split("*")[1].split("=")[0].lstrip("0")[:1] or "0"
        total[digit] += 1
        right[digit] += bool(r["correct"])
    print(f"{path}: " + ", ".join(f"{d}: {right[d]}/{total[d]}" for d in sorted(total)))
