"""Validation sweep of a `shortest` zoo member's learning rate and steps (how docs/findings/explicit.md chose
`tiny-lrm-shortest-prompted`'s): train each setting from the member's parent with the member's data
(rollouts are cached, so only the first setting rolls out), then greedy `cot` on the first N
validation problems. Trainings run one after another (two at once on two cores slow each tenfold).

    python benchmarks/shortest_sweep.py tiny-lrm-shortest-prompted 5e-4x250 5e-4x500 --n 2000
"""

import argparse
import dataclasses
import statistics
from pathlib import Path

from brevity.engines.hf import HFEngine
from brevity.methods import build_method
from brevity.tasks import load_problems
from brevity.zoo.build import train_member
from brevity.zoo.registry import MEMBERS, member_dir

ap = argparse.ArgumentParser()
ap.add_argument("member")
ap.add_argument("settings", nargs="+", help="LRxSTEPS, e.g. 5e-4x500")
ap.add_argument("--n", type=int, default=2000)
ap.add_argument("--out", default="brevity-runs/shortest-study")
args = ap.parse_args()

member = MEMBERS[args.member]
problems = load_problems("arith", split="validation", n=args.n)
for setting in args.settings:
    lr, steps = setting.split("x")
    out = Path(args.out) / f"n{member.rollout_problems}-lr{lr}-s{steps}"
    if not (out / "model.safetensors").is_file():
        train_member(dataclasses.replace(member, lr=float(lr), steps=int(steps)), member_dir(member.parent), out,
                     command=f"benchmarks/shortest_sweep.py {args.member} {setting}")
    sols = build_method("cot").run(problems, HFEngine(out, batch_size=64))
    print(f"{setting:12s} validation cot {statistics.mean(s.correct for s in sols):.3f} at "
          f"{statistics.mean(s.thinking_tokens for s in sols):.1f} thinking tokens (n={args.n})", flush=True)
