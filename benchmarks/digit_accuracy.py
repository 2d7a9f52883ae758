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


def digit_accuracy(run: Path, split: str) -> tuple[int, float, list[float]]:
    rows = [json.loads(line) for line in (run / "records.jsonl").read_text().splitlines() if line.strip()]
    rows = [r for r in rows if r.get("latency_s") is None]
    gold = {p.id: p.answer for p in load_problems("mult", split=split, n=len(rows), order="lsd")}
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
    for run in args.runs:
        n, exact, per = digit_accuracy(run, args.split)
        print(f"| {run.name} | {n} | {100 * exact:.1f} | " + " | ".join(f"{100 * x:.0f}" for x in per) + " |")


if __name__ == "__main__":
    main()
