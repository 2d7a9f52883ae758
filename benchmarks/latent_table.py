"""One latent-family table per task from a bench folder: accuracy with its Wilson interval, generated
positions (latent thoughts count), forward passes, batch-1 latency, and each model's training time from
its manifest (a method trained on top of another model adds that model's time).

    python benchmarks/latent_table.py brevity-runs/latent-graph/bench > docs/results/latent_graph.md
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def train_seconds(folder: Path) -> float:
    """This model's training time plus its parents' inside the same runs folder."""
    total, seen = 0.0, set()
    while folder.is_dir() and folder not in seen:
        seen.add(folder)
        man = json.loads((folder / "manifest.json").read_text()) if (folder / "manifest.json").is_file() else {}
        total += man.get("train", {}).get("train_seconds", 0.0)
        parent = folder.parent / man.get("parent", "")
        if not man.get("parent") or not parent.is_dir():
            break
        folder = parent
    return total


def main() -> None:
    bench = Path(sys.argv[1])
    rows = json.loads((bench / "summary.json").read_text())
    rows = rows if isinstance(rows, list) else rows["rows"]
    print("| model | method | accuracy (95% CI) | generated positions | forward passes | batch-1 p50 latency | "
          "training (min) |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        lo, hi = r["accuracy_ci95"]
        folder = bench.parent / r["model"]  # the runs folder holds the models beside the bench
        lat = f"{1000 * r['latency_p50_s']:.0f} ms" if r.get("latency_p50_s") is not None else "–"
        mins = train_seconds(folder) / 60 if folder.is_dir() else None
        print(f"| {r['model']} | {r['method']} | {100 * r['accuracy']:.1f} ({100 * lo:.1f}–{100 * hi:.1f}) | "
              f"{r['mean_generated_positions']:.1f} | {r.get('mean_forward_passes', 0):.1f} | {lat} | "
              f"{'–' if mins is None else f'{mins:.1f}'} |")


if __name__ == "__main__":
    main()
