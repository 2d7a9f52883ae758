"""One accuracy-against-thinking-tokens plot per family of methods, for the methods pages.

Drawn with the bench's own plot (`brevity.bench.report.plot_pareto`) from the committed summaries of the core
2,000-problem runs (`docs/results/summary.json`, written by benchmarks/results_core.sh and results_explicit.sh;
`family_summary.json`, by benchmarks/results_family.sh), so a plot never holds a number the results pages lack.
Run: python scripts/family_plots.py  (writes docs/results/plots/*.png)."""

import json
from pathlib import Path

from brevity.bench.report import plot_pareto

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "docs" / "results"

# family -> the (model, method-prefix) rows it shows; the reference `cot` row of the same model comes with each
FAMILIES = {
    "budgets": [("tiny-lrm", p) for p in ("cot", "nothink", "budget:", "budget-wait", "nowait")],
    "early-exit": [("tiny-lrm", p) for p in ("cot", "deer", "dynasor")]
                  + [("tiny-qwen3-lrm", p) for p in ("cot", "deer", "dynasor")],
    "prompting": [("tiny-lrm-instruct", p) for p in ("cot", "tale-ep", "cod", "sot", "ccot")],
    "compact-fine-tuning": [("tiny-lrm", "cot"), ("tiny-lrm-shortest", "cot"),
                            ("tiny-lrm-shortest-prompted", "cot"), ("tiny-lrm-tokenskip", "tokenskip")],
    "length-rewards": [("tiny-lrm", "cot"), ("tiny-lrm-rl-length", "cot"), ("tiny-lrm-l1", "l1"),
                       ("tiny-lrm-l1-loose", "l1")],
    "routing-merging": [("tiny-lrm", "cot"), ("tiny-llm", "cot"), ("tiny-lrm", "route:"),
                        ("ties-w0.95-d0.9", "cot")],
}


def rows_of(family: str, summaries: list[dict]) -> list[dict]:
    picks = FAMILIES[family]
    return [r for r in summaries if any(r["model"] == m and r["method"].startswith(p) for m, p in picks)]


def main() -> None:
    summaries = [*json.loads((RESULTS / "summary.json").read_text()),
                 *json.loads((RESULTS / "family_summary.json").read_text())]
    out = RESULTS / "plots"
    out.mkdir(exist_ok=True)
    for family in FAMILIES:
        rows = rows_of(family, summaries)
        if not rows:
            raise SystemExit(f"no rows for {family}: the summaries changed")
        plot_pareto(rows, out / f"{family}.png")
        print(f"{out.relative_to(ROOT)}/{family}.png: {len(rows)} rows")


if __name__ == "__main__":
    main()
