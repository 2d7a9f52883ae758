"""Print the validation losses (and the stage each was taken in) recorded in training checkpoints, side by
side, so runs stopped at any step can be compared at equal steps (a pilot that chooses a setting).

    python benchmarks/checkpoint_history.py RUN_DIR [RUN_DIR ...]

Each RUN_DIR is a `brevity train` output folder; its newest OUT/checkpoints/step-*.pt is read (or, for a
finished run, the manifest's history)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch


def history(run: Path) -> list[dict]:
    found = sorted((run / "checkpoints").glob("step-*.pt"))
    if found:
        return torch.load(found[-1], map_location="cpu", weights_only=False)["position"]["history"]
    return json.loads((run / "manifest.json").read_text())["train"]["history"]


def main(runs: list[str]) -> None:
    vals = {r: {h["step"]: (h["stage"], h["val"]) for h in history(Path(r)) if "val" in h} for r in runs}
    steps = sorted(set.intersection(*(set(v) for v in vals.values())))
    print("| step | " + " | ".join(f"{Path(r).name}: stage, val loss" for r in runs) + " |")
    print("|---|" + "---|" * len(runs))
    for s in steps:
        print(f"| {s} | " + " | ".join(f"{vals[r][s][0]}, {vals[r][s][1]:.4f}" for r in runs) + " |")


if __name__ == "__main__":
    main(sys.argv[1:])
