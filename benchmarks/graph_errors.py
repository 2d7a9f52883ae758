"""Where `graph` chains go wrong, per model of a bench run: the written chain against the gold path
(after the steps a curriculum model at stage K, c=1, holds in thoughts). Each record falls in one class:
the whole path right; the path right but continued past its end (the model did not stop at the answer,
which has no outgoing edge); a right path cut short; a first wrong step along a real edge of the question
(a wrong branch) or along one it does not state (invented); no chain written; or nothing left to write
(every step latent). Also accuracy within each class and the share of answers that name an option.
The problems are regenerated from the task in the bench's `run.json`, beside the records.

    python benchmarks/graph_errors.py brevity-runs/latent-graph/bench/records.jsonl
"""

import json
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

from brevity.recipes.latent.data import chain_steps, split_steps
from brevity.tasks import load_problems

CLASSES = ("path right", "did not stop", "stopped early", "wrong branch", "invented edge", "no chain",
           "all latent")
path = Path(sys.argv[1]) if len(sys.argv) == 2 else Path()
run = path.parent / "run.json"
task = json.loads(run.read_text())["task"] if path.is_file() and run.is_file() else {}  # the bench's, params and all
if task.get("name") != "graph":
    print("usage: graph_errors.py RECORDS.jsonl, from a `brevity bench --task graph` folder (with its run.json)",
          file=sys.stderr)
    sys.exit(2)
records = [json.loads(line) for line in open(path) if line.strip()]
split = records[0]["problem_id"].split("/")[-2]
n = max(int(r["problem_id"].rsplit("/", 1)[1]) for r in records) + 1
problems = {p.id: p for p in load_problems(task.pop("name"), split=split, n=n, **task)}


def concept(step: str) -> str:
    return step.rstrip(".").split()[-1]


def classify(record: dict) -> str:
    p = problems[record["problem_id"]]
    skip = record["latent_steps"]  # a curriculum model at stage K (c=1) writes the path from step K+1
    gold, got = chain_steps(p)[skip:], split_steps(record["thinking"])
    if not got:
        return "all latent" if not gold else "no chain"
    if got == gold:
        return "path right"
    if got[:len(gold)] == gold:
        return "did not stop"
    if gold[:len(got)] == got:
        return "stopped early"
    edges = set(re.findall(r"Every (\w+) is a (\w+)\.", p.question))
    start = re.search(r"(\w+) is a (\w+)\. Is", p.question).group(2)
    at = next(i for i, (a, b) in enumerate(zip(got, gold)) if a != b)
    path = [start] + [concept(x) for x in chain_steps(p)[:skip]] + [concept(x) for x in got]
    before = path[skip + at]
    return "wrong branch" if (before, concept(got[at])) in edges else "invented edge"


by_model: dict[str, Counter] = defaultdict(Counter)
right: dict[str, Counter] = defaultdict(Counter)
option: Counter = Counter()
for r in records:
    c = classify(r)
    by_model[r["model"]][c] += 1
    right[r["model"]][c] += r["correct"]
    options = re.search(r"a (\w+) or a (\w+)\?$", problems[r["problem_id"]].question).groups()
    option[r["model"]] += r["prediction"].rstrip(".").split()[-1] in options if r["prediction"] else 0
print("| model | n | " + " | ".join(f"{c} (acc.)" for c in CLASSES) + " | answer is an option |")
print("|---|---|" + "---|" * (len(CLASSES) + 1))
for model, counts in by_model.items():
    total = sum(counts.values())
    cells = [f"{counts[c] / total:.1%} ({right[model][c] / counts[c]:.0%})" if counts[c] else "–" for c in CLASSES]
    print(f"| {model} | {total} | " + " | ".join(cells) + f" | {option[model] / total:.1%} |")
