"""Does a verbose trace's re-checking change its answer? For one bench row, the answer its first pass
states ("So Emma has 8 apples.") against its final prediction, and the first pass's accuracy.

    python benchmarks/recheck_changes.py brevity-runs/test-2000/records.jsonl cot@tiny-lrm
"""

import json
import re
import sys

from brevity.bench.report import current_weights

path, row = sys.argv[1], sys.argv[2]
method, _, model = row.partition("@")
model = model or "tiny-lrm"
records, _ = current_weights([json.loads(line) for line in open(path) if line.strip()], [])
rows = [r for r in records if r["method"] == method and r["model"] == model]
stated = [re.search(r"So \w+ has (-?\d+)", r["thinking"]) for r in rows]
first = [m.group(1) if m else None for m in stated]
changed = sum(f != r["prediction"] for f, r in zip(first, rows))
first_ok = sum(f == r["prediction"] and r["correct"] for f, r in zip(first, rows))
print(f"{row}: n={len(rows)}; final answer differs from the first pass's on {changed}; "
      f"first pass correct {first_ok / len(rows):.1%}, final {sum(r['correct'] for r in rows) / len(rows):.1%}")
