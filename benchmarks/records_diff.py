"""Do two bench runs produce the same records? Per method: how many records differ in their thinking, their
answer, their verdict or their probe tokens. For checking that a refactor (e.g. rendering through the
reasoning formats) leaves the zoo's outputs unchanged.

    python benchmarks/records_diff.py RUN_BEFORE RUN_AFTER
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

FIELDS = ("thinking", "thinking_tokens", "answer", "correct", "probe_tokens")


def load(run: Path) -> dict[tuple, dict]:
    rows = (json.loads(line) for line in (run / "records.jsonl").read_text().splitlines() if line.strip())
    return {(r["method"], r["model"], r["problem_id"]): r for r in rows}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("before", type=Path)
    ap.add_argument("after", type=Path)
    args = ap.parse_args()
    a, b = load(args.before), load(args.after)
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for key in sorted(set(a) | set(b)):
        c = counts[f"{key[0]} @ {key[1]}"]
        c[0] += 1
        if key not in a or key not in b:
            c[1] += 1
        elif any(a[key][f] != b[key][f] for f in FIELDS):
            c[2] += 1
    print("| method @ model | records | in one run only | differing |")
    print("|---|---|---|---|")
    for name, (n, missing, differing) in counts.items():
        print(f"| {name} | {n} | {missing} | {differing} |")


if __name__ == "__main__":
    main()
