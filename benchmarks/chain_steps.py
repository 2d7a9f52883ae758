"""How far a compact chain goes right: for each step position, the share of problems whose generated
step equals the gold one (`<<...>>` steps, or `graph`'s sentences, in order), from a bench run's records.
A third argument K says the model's first K steps are latent (a Coconut model at stage K, c=1): its
first written step is compared with gold step K+1.

    python benchmarks/chain_steps.py brevity-runs/latent-mult-lsd/val/records.jsonl mult:order=lsd [K]
"""

import json
import sys

from brevity.cli import parse_task
from brevity.recipes.latent.data import chain_steps, split_steps
from brevity.tasks import load_problems

records = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
task = parse_task(sys.argv[2])
skip = int(sys.argv[3]) if len(sys.argv) > 3 else 0
split = records[0]["problem_id"].split("/")[-2]
gold = {p.id: chain_steps(p)
        for p in load_problems(task.name, split=split, n=len(records), **dict(task.params))}
width = max(len(g) for g in gold.values())
right = [0] * width
for r in records:
    got = [None] * skip + split_steps(r["thinking"])
    for i, step in enumerate(gold[r["problem_id"]][skip:], start=skip):
        right[i] += i < len(got) and got[i] == step
print(f"{sys.argv[1]}: n={len(records)}, accuracy {sum(r['correct'] for r in records) / len(records):.1%}; "
      "steps right by position: "
      + ", ".join("latent" if i < skip else f"{x / len(records):.0%}" for i, x in enumerate(right)))
