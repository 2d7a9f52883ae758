"""Does a model write the length it is asked for? Reads a bench run and prints, per model:

- `l1:N` rows (and any method whose parameter is a requested length in tokens): mean thinking tokens
  against N, their ratio, and accuracy, so one sees whether accuracy rises with N until it saturates;
- `tokenskip:G` rows: mean thinking tokens divided by the same model's `tokenskip:1.0` on the same
  problems, against gamma.

    python benchmarks/length_control.py brevity-runs/test-2000/records.jsonl
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from statistics import mean

from brevity.bench.report import current_weights


def load(path: str) -> dict[tuple[str, str], dict[str, dict]]:
    """Records by (model, method), of the weights each was last run with (a rebuilt model's replace its old)."""
    rows: dict[tuple[str, str], dict[str, dict]] = defaultdict(dict)
    records, _ = current_weights([json.loads(line) for line in open(path) if line.strip()], [])
    for r in records:
        rows[(r["model"], r["method"])][r["problem_id"]] = r
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("records")
    ap.add_argument("--within", type=float, default=0.2, help="tolerance for l1 (relative to N)")
    ap.add_argument("--gamma-within", type=float, default=0.15, help="tolerance for TokenSkip (relative to gamma)")
    args = ap.parse_args()
    rows = load(args.records)
    for (model, method), recs in sorted(rows.items(), key=lambda kv: (kv[0][0], _num(kv[0][1]))):
        name, _, value = method.partition(":")
        if name == "l1" and value:
            n = int(value)
            think = mean(r["thinking_tokens"] for r in recs.values())
            ok = abs(think - n) <= args.within * n
            print(f"{model:22s} l1:{n:<5d} n={len(recs):5d}  thinking {think:7.1f}  ratio {think / n:5.2f}  "
                  f"accuracy {100 * mean(r['correct'] for r in recs.values()):5.1f}%  "
                  f"{'within' if ok else 'OUTSIDE'} {args.within:.0%}")
        if name == "tokenskip" and value and float(value) < 1.0:
            full = rows.get((model, "tokenskip:1.0"))
            if not full:
                print(f"{model:22s} {method}: no tokenskip:1.0 row of the same model to compare with")
                continue
            ids = sorted(set(recs) & set(full))
            ratio = mean(recs[i]["thinking_tokens"] for i in ids) / mean(full[i]["thinking_tokens"] for i in ids)
            g = float(value)
            ok = abs(ratio - g) <= args.gamma_within * g
            print(f"{model:22s} {method:15s} n={len(ids):5d}  length ratio {ratio:5.3f} vs gamma {g:.2f}  "
                  f"accuracy {100 * mean(recs[i]['correct'] for i in ids):5.1f}%  "
                  f"{'within' if ok else 'OUTSIDE'} {args.gamma_within:.0%}")


def _num(method: str) -> float:
    try:
        return float(method.partition(":")[2])
    except ValueError:
        return 0.0


if __name__ == "__main__":
    main()
