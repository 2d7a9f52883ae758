"""One latent-family table per task from a bench folder: accuracy with its Wilson interval, generated
positions (latent thoughts count), forward passes, batch-1 latency, and each model's training time from
its manifest (a method trained on top of another model adds that model's time). With --plot PATH it also
draws accuracy against generated positions, the trade the latent family makes; models named NAME-sK
(curriculum stage K of NAME) join NAME on one curve.

    python benchmarks/latent_table.py brevity-runs/latent-graph/bench [MODEL_DIRS...] [--plot PNG] > table.md
"""

from __future__ import annotations

import json
import re
import sys
from collections import defaultdict
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


def plot(rows: list[dict], path: Path) -> None:
    """Accuracy (Wilson interval) against mean generated positions; a curriculum's stages form one curve."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curves: dict[str, list[tuple[int, dict]]] = defaultdict(list)
    for r in rows:
        m = re.fullmatch(r"(.*)-s(\d+)", r["model"])
        curves[m.group(1) if m else r["model"]].append((int(m.group(2)) if m else 10**6, r))
    fig, ax = plt.subplots(figsize=(8, 4.8))
    for name, pts in sorted(curves.items()):
        pts.sort(key=lambda p: p[0])
        xs = [r["mean_generated_positions"] for _, r in pts]
        ys = [100 * r["accuracy"] for _, r in pts]
        err = [[100 * (r["accuracy"] - r["accuracy_ci95"][0]) for _, r in pts],
               [100 * (r["accuracy_ci95"][1] - r["accuracy"]) for _, r in pts]]
        ax.errorbar(xs, ys, yerr=err, marker="o", capsize=3, linestyle="-" if len(pts) > 1 else "none", label=name)
        for (k, _), x, y in zip(pts, xs, ys):
            if len(pts) > 1 and k < 10**6:
                ax.annotate(f"s{k}", (x, y), textcoords="offset points", xytext=(4, 4), fontsize=7)
    ax.set_xlabel("mean generated positions per problem (latent thoughts count)")
    ax.set_ylabel("accuracy (%)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.set_title("accuracy versus generated positions")
    fig.tight_layout()
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)


def main() -> None:
    args = sys.argv[1:]
    png = None
    if "--plot" in args:
        i = args.index("--plot")
        png = Path(args[i + 1])
        del args[i:i + 2]
    bench, dirs = Path(args[0]), [Path(d) for d in args[1:]]
    rows = json.loads((bench / "summary.json").read_text())
    rows = rows if isinstance(rows, list) else rows["rows"]
    if png is not None:
        plot(rows, png)
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
