"""The KV-cache sweep as a table: for each policy and budget of a `brevity bench --kv` run, accuracy, the paired
difference from `full` with its 95% interval, the budget as a share of full's mean trace, and how often the
sequence ran to the generation cap; then, per policy, the smallest budget whose accuracy holds (the interval's
lower bound above -1 point), or none.

    python benchmarks/kv_table.py brevity-runs/kv/val
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path


def main() -> None:
    run = Path(sys.argv[1])
    summary = json.loads((run / "summary.json").read_text())
    records = [json.loads(line) for line in (run / "records.jsonl").open()]
    capped = defaultdict(int)
    for r in records:
        capped[r["method"]] += r["finish_reason"] == "length"
    print("| method | policy | budget | share of full's mean trace | acc % | Δ vs full (95% CI) | holds | "
          "mean trace tokens | ran to the cap |")
    print("|---|---|---|---|---|---|---|---|---|")
    chosen: dict[tuple[str, str], str] = {}
    for row in summary:
        kv = row.get("kv")
        if not kv:
            continue
        lo, hi = kv["accuracy_diff_vs_full_ci95"]
        budget = kv["max_peak_trace_tokens"]
        name = kv["policy"].split(":")[0]
        print(f"| {kv['method']} | {kv['policy']} | {budget} | {100 * kv['budget_share_of_trace']:.0f}% | "
              f"{100 * kv['accuracy']:.1f} | {100 * kv['accuracy_diff_vs_full']:+.1f} ({100 * lo:+.1f}, "
              f"{100 * hi:+.1f}) | {'yes' if kv['accuracy_holds'] else 'no'} | "
              f"{row['mean_thinking_tokens'] + row['mean_answer_tokens']:.0f} | "
              f"{capped[row['method']]} of {row['n']} |")
        if kv["accuracy_holds"] and (kv["method"], name) not in chosen:
            chosen[(kv["method"], name)] = f"{kv['policy']} ({100 * kv['budget_share_of_trace']:.0f}% of the trace)"
    fulls = {r["method"]: r for r in summary if " kv=" not in r["method"]}
    for method, row in fulls.items():
        print(f"\nfull {method}: {100 * row['accuracy']:.1f}% at {row['mean_thinking_tokens'] + row['mean_answer_tokens']:.0f}"
              " mean trace tokens")
    names = sorted({r["kv"]["policy"].split(":")[0] for r in summary if r.get("kv")})
    for method in fulls:
        for name in names:
            print(f"{method} {name}: smallest budget that holds: {chosen.get((method, name), 'none in the sweep')}")


if __name__ == "__main__":
    main()
