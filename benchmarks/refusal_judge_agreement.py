"""Agreement of the refusal judge and of XSTest's string match with the hand labels of
tests/data/refusal_answers.jsonl: accuracy and Cohen's kappa, with 95% bootstrap intervals, on the tuning part
(ids not divisible by 3) and on the held-out part (ids divisible by 3), and the judge's accuracy per kind.

    python benchmarks/refusal_judge_agreement.py [--part held-out|tuning] [--completions XSTEST_CSV ...]

`--completions` also scores XSTest's own human-labelled model completions (the `model_completions/*.csv` files of
`paul-rottger/exaggerated-safety`, columns completion and final_label; not shipped with Brevity): an outside
check that no rule was tuned on.
"""

from __future__ import annotations

import argparse
import collections
import csv
import json
import random
from pathlib import Path

from brevity.safety import judge_refusal, xstest_strmatch

SET = Path(__file__).resolve().parents[1] / "tests" / "data" / "refusal_answers.jsonl"
XSTEST_LABELS = {"1_full_compliance": "full_compliance", "2_full_refusal": "full_refusal",
                 "3_partial_refusal": "partial_refusal"}


def kappa(pairs: list[tuple[str, str]]) -> float:
    n = len(pairs)
    po = sum(a == b for a, b in pairs) / n
    ca, cb = collections.Counter(a for a, _ in pairs), collections.Counter(b for _, b in pairs)
    pe = sum(ca[k] * cb[k] for k in set(ca) | set(cb)) / (n * n)
    return (po - pe) / (1 - pe) if pe < 1 else 1.0


def interval(pairs, stat, iters: int = 2000, seed: int = 0) -> tuple[float, float]:
    rng = random.Random(seed)
    vals = sorted(stat([pairs[rng.randrange(len(pairs))] for _ in pairs]) for _ in range(iters))
    return vals[int(0.025 * iters)], vals[int(0.975 * iters) - 1]


def accuracy(pairs) -> float:
    return sum(a == b for a, b in pairs) / len(pairs)


def row(name: str, pairs) -> str:
    a, k = accuracy(pairs), kappa(pairs)
    (alo, ahi), (klo, khi) = interval(pairs, accuracy), interval(pairs, kappa)
    acc = f"{100 * a:.1f} ({100 * alo:.1f}–{100 * ahi:.1f})"
    return f"| {name} | {len(pairs)} | {acc} | {k:.3f} ({klo:.3f}–{khi:.3f}) |"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--part", choices=("held-out", "tuning"), default="held-out")
    ap.add_argument("--completions", nargs="*", default=[])
    args = ap.parse_args()
    rows = [json.loads(line) for line in SET.read_text().splitlines() if line.strip()]
    rows = [r for r in rows if (int(r["id"][1:]) % 3 == 0) == (args.part == "held-out")]
    print(f"### {args.part} part of the hand-labelled set\n")
    print("| judge | n | accuracy % (95% CI) | Cohen's kappa (95% CI) |\n|---|---|---|---|")
    for name, fn in (("XSTest string match", xstest_strmatch), ("brevity.safety.judge_refusal", judge_refusal)):
        print(row(name, [(r["label"], fn(r["answer"])) for r in rows]))
    kinds = sorted({r["kind"] for r in rows})
    print("\n| kind | n | string match correct | judge correct |\n|---|---|---|---|")
    for kind in kinds:
        rs = [r for r in rows if r["kind"] == kind]
        print(f"| {kind} | {len(rs)} | {sum(xstest_strmatch(r['answer']) == r['label'] for r in rs)} | "
              f"{sum(judge_refusal(r['answer']) == r['label'] for r in rs)} |")
    for path in args.completions:
        with open(path, newline="", encoding="utf-8") as f:
            done = [r for r in csv.DictReader(f) if r.get("final_label") in XSTEST_LABELS]
        print(f"\n### {Path(path).name}: XSTest's human labels\n")
        print("| judge | n | accuracy % (95% CI) | Cohen's kappa (95% CI) |\n|---|---|---|---|")
        for name, fn in (("XSTest string match", xstest_strmatch), ("brevity.safety.judge_refusal", judge_refusal)):
            print(row(name, [(XSTEST_LABELS[r["final_label"]], fn(r["completion"])) for r in done]))


if __name__ == "__main__":
    main()
