"""What the self-training recipes had to choose from: a zoo model's cached rollouts (greedy plus
samples) on the train problems, per sample index, and how often the shortest correct trace was a sample.

    python benchmarks/rollout_stats.py [--model tiny-lrm-sampled] [--n 1500]
"""

import argparse
from statistics import mean, pstdev

from brevity.zoo.build import parent_rollouts
from brevity.zoo.registry import resolve_model

ap = argparse.ArgumentParser()
ap.add_argument("--model", default="tiny-lrm", help="a zoo member (the parent of `shortest`)")
ap.add_argument("--n", type=int, default=1500, help="train questions (the recipes roll out 1,500)")
args = ap.parse_args()
if args.n <= 0:
    ap.error("--n must be positive")
problems, groups = parent_rollouts(resolve_model(args.model), n=args.n)  # read from the cache when present
for s in range(len(groups[0])):
    print(f"sample {s}: correct {mean(g[s].correct for g in groups):.3f}, "
          f"thinking tokens {mean(len(g[s].thinking_ids) for g in groups):.1f}")
best = [(g[0], min((r for r in g if r.correct), key=lambda r: (len(r.thinking_ids), r.sample)))
        for g in groups if any(r.correct for r in g)]
print(f"questions with a correct trace: {len(best)} of {len(groups)}; shortest correct is a sample on "
      f"{mean(b.sample != 0 for _, b in best):.1%}; shortest {mean(len(b.thinking_ids) for _, b in best):.1f} "
      f"vs greedy {mean(len(g.thinking_ids) for g, _ in best):.1f} thinking tokens")
spread = [pstdev(len(r.thinking_ids) for r in g if r.correct) for g in groups if sum(r.correct for r in g) > 1]
print(f"questions with 2+ correct traces: {len(spread)}; mean within-question standard deviation of their "
      f"thinking tokens {mean(spread):.1f}")
