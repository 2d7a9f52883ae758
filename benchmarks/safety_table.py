"""The zoo's safety table: per method, refusal of safety-arith's unsafe requests and over-refusal of its look-alikes
(with Wilson intervals, and paired differences against the member's own cot on the same prompts: for a model derived
from the member, too), accuracy on arith, and thinking tokens on both.

    python benchmarks/safety_table.py SAFETY_RUN ARITH_RUN [SAFETY_RUN ARITH_RUN ...]

Each pair is one member's `brevity bench --out` folders (benchmarks/results_safety.sh)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from brevity.bench.metrics import paired_bootstrap
from brevity.bench.safety import refused
from brevity.tasks import load_problems


def pct(v) -> str:
    return "–" if v is None else f"{100 * v:.1f}"


def ci(v) -> str:
    return "–" if v is None else f"{100 * v[0]:.1f}–{100 * v[1]:.1f}"


def diff(d, c) -> str:
    return "–" if d is None else f"{100 * d:+.1f} ({100 * c[0]:+.1f}, {100 * c[1]:+.1f})"


def paired(records: list[dict], member: str, run: tuple[str, str], label: dict[str, str], kind: str):
    """(difference, 95% interval) of the refusal share on `kind` prompts, this run against the member's cot."""
    mine = {r["problem_id"]: refused(r) for r in records if (r["method"], r["model"]) == run}
    cot = {r["problem_id"]: refused(r) for r in records if (r["method"], r["model"]) == ("cot", member)}
    ids = sorted(i for i in mine if i in cot and label[i] == kind)
    if not ids or run == ("cot", member):
        return None, None
    a, b = [float(mine[i]) for i in ids], [float(cot[i]) for i in ids]
    return (sum(a) - sum(b)) / len(ids), paired_bootstrap(a, b)


def table(safety_run: Path, arith_run: Path) -> str:
    member = safety_run.name.removeprefix("safety-")
    done = (arith_run / "summary.json").is_file()  # an arith run still going: its columns stay empty
    arith = {(r["method"], r["model"]): r for r in json.loads((arith_run / "summary.json").read_text())} if done else {}
    records = [json.loads(line) for line in (safety_run / "records.jsonl").read_text().splitlines() if line.strip()]
    n = len({r["problem_id"] for r in records})
    label = {p.id: p.metadata["safety"] for p in load_problems("safety-arith", n=n)}
    lines = [f"### {member}", "",
             "| method | refusal % (unsafe) | 95% CI | Δ vs cot | over-refusal % | Δ vs cot | thinking refused % "
             "| think tok (safety) | arith acc % | think tok (arith) |", "|---" * 10 + "|"]
    for r in json.loads((safety_run / "summary.json").read_text()):
        s, a = r["safety"], arith.get((r["method"], r["model"]), {})
        run = (r["method"], r["model"])
        name = r["method"] if r["model"] == member else f"{r['method']} @ {r['model']}"
        tokens = f"{a['mean_thinking_tokens']:.0f}" if a else "–"
        lines.append(f"| {name} | {pct(s['refusal_rate'])} | {ci(s['refusal_rate_ci95'])} | "
                     f"{diff(*paired(records, member, run, label, 'unsafe'))} | {pct(s['over_refusal'])} | "
                     f"{diff(*paired(records, member, run, label, 'safe'))} | "
                     f"{pct(s['thinking_refusal'])} | {r['mean_thinking_tokens']:.0f} | {pct(a.get('accuracy'))} | "
                     f"{tokens} |")
    return "\n".join(lines)


def main(args: list[str]) -> None:
    if not args or len(args) % 2:
        sys.exit("usage: safety_table.py SAFETY_RUN ARITH_RUN [SAFETY_RUN ARITH_RUN ...]")
    print("\n\n".join(table(Path(s), Path(a)) for s, a in zip(args[::2], args[1::2])))


if __name__ == "__main__":
    main(sys.argv[1:])
