"""The zoo's safety table: per method, refusal of safety-arith's unsafe requests and over-refusal of its look-alikes
(with Wilson intervals and paired differences against cot), accuracy on arith, and thinking tokens on both.

    python benchmarks/safety_table.py SAFETY_RUN ARITH_RUN [SAFETY_RUN ARITH_RUN ...]

Each pair is one member's `brevity bench --out` folders (benchmarks/results_safety.sh)."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def pct(v) -> str:
    return "–" if v is None else f"{100 * v:.1f}"


def ci(v) -> str:
    return "–" if v is None else f"{100 * v[0]:.1f}–{100 * v[1]:.1f}"


def diff(d, c) -> str:
    return "–" if d is None else f"{100 * d:+.1f} ({100 * c[0]:+.1f}, {100 * c[1]:+.1f})"


def table(safety_run: Path, arith_run: Path) -> str:
    arith = {r["method"]: r for r in json.loads((arith_run / "summary.json").read_text())}
    lines = [f"### {safety_run.name.removeprefix('safety-')}", "",
             "| method | refusal % (unsafe) | 95% CI | Δ vs cot | over-refusal % | Δ vs cot | thinking refused % "
             "| think tok (safety) | arith acc % | think tok (arith) |", "|---" * 10 + "|"]
    for r in json.loads((safety_run / "summary.json").read_text()):
        s, a = r["safety"], arith.get(r["method"], {})
        name = r["method"] if r["model"] == safety_run.name.removeprefix("safety-") else f"{r['method']} @ {r['model']}"
        lines.append(f"| {name} | {pct(s['refusal_rate'])} | {ci(s['refusal_rate_ci95'])} | "
                     f"{diff(s.get('refusal_diff_vs_cot'), s.get('refusal_diff_ci95'))} | {pct(s['over_refusal'])} | "
                     f"{diff(s.get('over_refusal_diff_vs_cot'), s.get('over_refusal_diff_ci95'))} | "
                     f"{pct(s['thinking_refusal'])} | {r['mean_thinking_tokens']:.0f} | {pct(a.get('accuracy'))} | "
                     f"{a.get('mean_thinking_tokens', 0):.0f} |")
    return "\n".join(lines)


def main(args: list[str]) -> None:
    if not args or len(args) % 2:
        sys.exit("usage: safety_table.py SAFETY_RUN ARITH_RUN [SAFETY_RUN ARITH_RUN ...]")
    print("\n\n".join(table(Path(s), Path(a)) for s, a in zip(args[::2], args[1::2])))


if __name__ == "__main__":
    main(sys.argv[1:])
