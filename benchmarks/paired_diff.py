"""Paired accuracy difference between two methods of one bench run, on the problems both solved,
with a paired bootstrap 95% interval (the same one `brevity bench` reports against `cot`).

    python benchmarks/paired_diff.py brevity-runs/test-2000/records.jsonl deer:0.95 budget:96
    python benchmarks/paired_diff.py brevity-runs/test-2000/records.jsonl cot cot@tiny-llm
"""

from __future__ import annotations

import argparse
import json
from statistics import mean

from brevity.bench.metrics import paired_bootstrap
from brevity.bench.report import current_weights


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("records")
    ap.add_argument("a", help="canonical method spec as in the report, optionally @model")
    ap.add_argument("b")
    ap.add_argument("--model", default="tiny-lrm", help="model of a spec without @model")
    args = ap.parse_args()
    key = {s: tuple(s.split("@", 1)) if "@" in s else (s, args.model) for s in (args.a, args.b)}
    by: dict[str, dict[str, dict]] = {args.a: {}, args.b: {}}
    records, _ = current_weights([json.loads(line) for line in open(args.records) if line.strip()], [])
    for r in records:  # of the weights each (method, model) was last run with
        for s, k in key.items():
            if (r["method"], r["model"]) == k:
                by[s][r["problem_id"]] = r
    ids = sorted(set(by[args.a]) & set(by[args.b]))
    if not ids:
        raise SystemExit(f"no problems with both {args.a} and {args.b}")
    a = [float(by[args.a][i]["correct"]) for i in ids]
    b = [float(by[args.b][i]["correct"]) for i in ids]
    ta = mean(by[args.a][i]["thinking_tokens"] for i in ids)
    tb = mean(by[args.b][i]["thinking_tokens"] for i in ids)
    lo, hi = paired_bootstrap(a, b)
    print(f"n={len(ids)}  {args.a}: {100 * mean(a):.1f}% ({ta:.0f} thinking tokens)  {args.b}: {100 * mean(b):.1f}% "
          f"({tb:.0f})  difference {100 * (mean(a) - mean(b)):+.1f} points, paired 95% CI "
          f"{100 * lo:+.1f} to {100 * hi:+.1f}")


if __name__ == "__main__":
    main()
