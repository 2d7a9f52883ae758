"""The length-RL sweep's curve over steps: validation accuracy and thinking tokens of every checkpoint of each
run in benchmarks/rl_length_sweep.sh's folder, against the base (a json of the points and a png).

    python benchmarks/plot_rl_sweep.py brevity-runs/rl-length-sweep docs/results/rl_length_sweep
"""

from __future__ import annotations

import argparse
import json
import re
from collections import defaultdict
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("sweep", type=Path)
    ap.add_argument("out", help="path without suffix: writes OUT.json and OUT.png")
    args = ap.parse_args()
    runs: dict[str, list[dict]] = defaultdict(list)
    for summary in sorted(args.sweep.glob("bench-*/summary.json")):
        row = json.loads(summary.read_text())[0]
        point = {"accuracy": row["accuracy"], "thinking_tokens": round(row["mean_thinking_tokens"], 1), "n": row["n"]}
        m = re.fullmatch(r"bench-(.+)-checkpoint-(\d+)", summary.parent.name)
        runs[m.group(1) if m else "base"].append({"step": int(m.group(2)) if m else 0, **point})
    base = runs.pop("base")[0]
    for points in runs.values():
        points.sort(key=lambda p: p["step"])
    Path(args.out + ".json").write_text(json.dumps({"base": base, "runs": runs}, indent=1) + "\n")

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_t, ax_a) = plt.subplots(1, 2, figsize=(10, 4))
    for name, points in runs.items():
        steps = [0] + [p["step"] for p in points]
        ax_t.plot(steps, [base["thinking_tokens"]] + [p["thinking_tokens"] for p in points], "o-", label=name)
        ax_a.plot(steps, [100 * base["accuracy"]] + [100 * p["accuracy"] for p in points], "o-", label=name)
    ax_a.axhline(100 * base["accuracy"] - 1, color="grey", ls=":", label="base - 1 point")
    ax_t.set(xlabel="GRPO step", ylabel="mean thinking tokens", title="length (validation)")
    ax_a.set(xlabel="GRPO step", ylabel="cot accuracy %", title=f"accuracy (validation, n={base['n']})")
    for ax in (ax_t, ax_a):
        ax.legend()
    fig.tight_layout()
    fig.savefig(args.out + ".png", dpi=110)
    print(f"wrote {args.out}.json and {args.out}.png")


if __name__ == "__main__":
    main()
