"""One accuracy-against-thinking-tokens plot per family of methods, for the methods pages.

Drawn with the bench's own plot (`brevity.bench.report.plot_pareto`) from the committed outputs of the 2,000-problem
test runs, so a plot never holds a number the results pages lack: `docs/results/summary.json` (benchmarks/
results_core.sh and results_explicit.sh), `family_summary.json` (results_family.sh), and the report tables of the
later runs (`test_tokenskip.md`, the current TokenSkip build, which replaces summary.json's; `test_sampled.md`, the
members built on `tiny-lrm-sampled`; both from benchmarks/results_sampled.sh).
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
                            ("tiny-lrm-shortest-prompted", "cot"), ("tiny-lrm-tokenskip", "tokenskip"),
                            ("tiny-lrm-sampled", "cot"), ("tiny-lrm-sampled-shortest", "cot")],
    "length-rewards": [("tiny-lrm", "cot"), ("tiny-lrm-rl-length", "cot"), ("tiny-lrm-l1", "l1"),
                       ("tiny-lrm-l1-loose", "l1"), ("tiny-lrm-sampled", "cot"), ("tiny-lrm-sampled-rl-length", "cot")],
    "routing-merging": [("tiny-lrm", "cot"), ("tiny-llm", "cot"), ("tiny-lrm", "route:"),
                        ("ties-w0.95-d0.9", "cot")],
}


def rows_of(family: str, summaries: list[dict]) -> list[dict]:
    picks = FAMILIES[family]
    rows = [r for r in summaries if any(r["model"] == m and r["method"].startswith(p) for m, p in picks)]
    # The bench's plot draws one curve per method name before ":" (a swept parameter); routes are not a sweep,
    # so each is its own point.
    return [{**r, "method": r["method"].replace(":", " ", 1)} if r["method"].startswith("route:") else r
            for r in rows]


REPORTS = ("test_tokenskip.md", "test_sampled.md")  # later runs; their rows replace summary.json's of the same model


def report_rows(path: Path) -> list[dict]:
    """The rows of a bench report's table (report.md), with the columns the plot reads."""
    lines = [line for line in path.read_text().splitlines() if line.startswith("| ")]
    head = [c.strip() for c in lines[0].strip("|").split("|")]
    rows = []
    for line in lines[1:]:
        cells = dict(zip(head, (c.strip() for c in line.strip("|").split("|"))))
        low, high = (float(x) / 100 for x in cells["95% CI"].split("–"))
        rows.append({"method": cells["method"], "model": cells["model"], "accuracy": float(cells["acc %"]) / 100,
                     "accuracy_ci95": [low, high], "mean_thinking_tokens": float(cells["think tok"])})
    return rows


def main() -> None:
    later = [r for name in REPORTS for r in report_rows(RESULTS / name)]
    replaced = {r["model"] for r in later} - {"tiny-lrm"}
    summaries = [r for r in [*json.loads((RESULTS / "summary.json").read_text()),
                             *json.loads((RESULTS / "family_summary.json").read_text())] if r["model"] not in replaced]
    summaries += [r for r in later if r["model"] != "tiny-lrm"]
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
