"""Accuracy per group of problems (MATH-500's level and subject): a method can save tokens on easy
problems and lose the hard ones, which one overall number hides. A task names the metadata keys to
group by in ``metadata["breakdown"]``."""

from __future__ import annotations

from collections import defaultdict

from brevity.tasks import Problem


def breakdown(records: list[dict], problems: list[Problem]) -> dict[str, dict[str, dict[str, dict]]]:
    """{key: {"method @ model": {value: {"n", "correct", "accuracy"}}}} over these problems' records."""
    from brevity.bench.report import current_weights

    meta = {p.id: p.metadata for p in problems}
    keys = sorted({k for p in problems for k in p.metadata.get("breakdown", ())})
    if not keys:
        return {}
    rows, _ = current_weights([r for r in records if r["problem_id"] in meta], [])
    out: dict[str, dict[str, dict[str, dict]]] = {}
    for key in keys:
        cells: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
        for r in rows:
            value = meta[r["problem_id"]].get(key)
            if value is None:
                continue
            cell = cells[f"{r['method']} @ {r['model']}"][str(value)]
            cell[0] += 1
            cell[1] += bool(r["correct"])
        out[key] = {name: {v: {"n": n, "correct": c, "accuracy": c / n} for v, (n, c) in sorted(vals.items())}
                    for name, vals in cells.items()}
    return out


def breakdown_markdown(table: dict[str, dict[str, dict[str, dict]]]) -> str:
    """One table per key: a row per method and model, a column per value, cells "acc % (n)"."""
    parts = []
    for key, by_run in table.items():
        values = sorted({v for cells in by_run.values() for v in cells}, key=lambda v: (not v.isdigit(), len(v), v))
        head = f"| method @ model | {' | '.join(values)} |"
        sep = "|---" * (len(values) + 1) + "|"
        body = [f"| {name} | " + " | ".join(
            f"{100 * cells[v]['accuracy']:.1f} ({cells[v]['n']})" if v in cells else "–" for v in values) + " |"
            for name, cells in by_run.items()]
        parts.append("\n".join([f"### accuracy % by {key} (n)", "", head, sep, *body]))
    return "\n\n".join(parts)
