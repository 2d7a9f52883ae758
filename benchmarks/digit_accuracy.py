"""Per-digit accuracy of `mult` answers in bench runs: for each digit k of the product (least significant first,
as `mult:order=lsd` writes it), the share of problems whose predicted digit k is right, and exact match. A model
that learns only the outer digits (c0, c1, c7), as plain fine-tuning does on 4x4 multiplication, shows it here
long before exact match moves. Usage:
  python benchmarks/digit_accuracy.py --split validation RUN_DIR [RUN_DIR ...]"""

import argparse
import json
from pathlib import Path

from brevity.tasks import load_problems

WIDTH = 8  # 4-by-4: up to 8 digits; a 7-digit product's c7 is 0


def digit_accuracy(rows: list[dict], split: str) -> tuple[int, float, list[float]]:
    """(problems, exact match, per-digit accuracy) of one model's records."""
    problems = len({r["problem_id"] for r in rows})  # the latency subsample's ids too: they are the first ones
    rows = [r for r in rows if r.get("latency_s") is None]
    gold = {p.id: p.answer for p in load_problems("mult", split=split, n=problems, order="lsd")}
    hits = [0] * WIDTH
    for r in rows:
        pred = (r.get("prediction") or "").ljust(WIDTH, "0")[:WIDTH]
        want = gold[r["problem_id"]].ljust(WIDTH, "0")
        for k in range(WIDTH):
            hits[k] += pred[k] == want[k]
    n = len(rows)
    return n, sum(r["correct"] for r in rows) / n, [h / n for h in hits]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--split", default="validation")
    ap.add_argument("runs", nargs="+", type=Path)
    args = ap.parse_args()
    print("| run | n | exact % | " + " | ".join(f"c{k}" for k in range(WIDTH)) + " |")
    print("|---|---|---|" + "---|" * WIDTH)
    for run in args.runs:  # a run folder with several models gets a line each
        rows = [json.loads(line) for line in (run / "records.jsonl").read_text().splitlines() if line.strip()]
        models = list(dict.fromkeys(r["model"] for r in rows))
        for model in models:
            n, exact, per = digit_accuracy([r for r in rows if r["model"] == model], args.split)
            name = run.name if len(models) == 1 else f"{run.name}: {model}"
            print(f"| {name} | {n} | {100 * exact:.1f} | " + " | ".join(f"{100 * x:.0f}" for x in per) + " |")


if __name__ == "__main__":
    main()
