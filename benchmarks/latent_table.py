"""One latent-family table per task from a bench folder: accuracy with its Wilson interval, generated
positions (latent thoughts count), forward passes, batch-1 latency, and each model's training time from
its manifest (a method trained on top of another model adds that model's time).

    python benchmarks/latent_table.py brevity-runs/latent-graph/bench > docs/results/latent_graph.md
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def find(name: str, dirs: list[Path]) -> Path | None:
    for d in dirs:
        if (d / name / "manifest.json").is_file():
            return d / name
    from brevity.zoo import resolve_model

    try:
        return Path(resolve_model(name))
    except Exception:  # noqa: BLE001
        return None


def train_seconds(name: str, dirs: list[Path]) -> float | None:
    """This model's training time plus its parents', down to (not including) the shared tiny-base."""
    total, seen = 0.0, set()
    while name and name != "tiny-base" and name not in seen:
        seen.add(name)
        folder = find(name, dirs)
        if folder is None:
            return None
        man = json.loads((folder / "manifest.json").read_text())
        total += man.get("train", {}).get("train_seconds", 0.0)
        name = man.get("parent")
    return total


def main() -> None:
    bench, dirs = Path(sys.argv[1]), [Path(d) for d in sys.argv[2:]]
    rows = json.loads((bench / "summary.json").read_text())
    rows = rows if isinstance(rows, list) else rows["rows"]
    print("| model | method | accuracy (95% CI) | generated positions | forward passes | batch-1 p50 latency | "
          "training (min) |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        lo, hi = r["accuracy_ci95"]
        lat = f"{1000 * r['latency_p50_s']:.0f} ms" if r.get("latency_p50_s") is not None else "–"
        secs = train_seconds(r["model"], dirs)
        mins = None if secs is None else secs / 60
        print(f"| {r['model']} | {r['method']} | {100 * r['accuracy']:.1f} ({100 * lo:.1f}–{100 * hi:.1f}) | "
              f"{r['mean_generated_positions']:.1f} | {r.get('mean_forward_passes', 0):.1f} | {lat} | "
              f"{'–' if mins is None else f'{mins:.1f}'} |")


if __name__ == "__main__":
    main()
