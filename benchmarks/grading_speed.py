"""Grader speed: answers graded per second by `brevity.tasks.grade`, with its caches cleared before
each pass (every answer parsed afresh, as when a run is first scored). MATH-500 reference solutions
go through math-verify (LaTeX answers) or the exact numeric path; GSM8K's are all numeric. The load
average is printed too: the numbers scale with the free cores.

    PYTHONPATH=src python benchmarks/grading_speed.py --repeats 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

from brevity.tasks import grade
from brevity.tasks.grading import _parsed, math_verify_equal

SHARED = Path(os.environ.get("BREVITY_SHARED", Path(__file__).resolve().parents[1].parent / "shared")) / "data"


def pairs() -> dict[str, list[tuple[str, str]]]:
    math = [json.loads(x) for x in (SHARED / "math500" / "test.jsonl").read_text().splitlines() if x.strip()]
    gsm = [json.loads(x) for x in (SHARED / "gsm8k" / "test.jsonl").read_text().splitlines() if x.strip()]
    return {"MATH-500 reference solutions": [(r["solution"], r["answer"]) for r in math],
            # Wrong answers cost more: math-verify simplifies the difference before it says no.
            "MATH-500 solutions against the next problem's answer": [
                (r["solution"], math[(i + 1) % len(math)]["answer"]) for i, r in enumerate(math)],
            "GSM8K test reference solutions": [(r["answer"], r["answer"].split("####")[-1].strip().replace(",", ""))
                                               for r in gsm]}


def rate(items: list[tuple[str, str]]) -> tuple[float, int]:
    _parsed.cache_clear()
    math_verify_equal.cache_clear()
    t0 = time.perf_counter()
    right = sum(grade(out, gold) for out, gold in items)
    return len(items) / (time.perf_counter() - t0), right


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    for name, items in pairs().items():
        runs = [rate(items) for _ in range(args.repeats)]
        rates = [r for r, _ in runs]
        print(f"{name}: {len(items)} answers, {runs[0][1]} graded right; {statistics.median(rates):.0f} graded/s "
              f"(median of {args.repeats} cold-cache passes; min {min(rates):.0f}, max {max(rates):.0f})")


if __name__ == "__main__":
    main()
