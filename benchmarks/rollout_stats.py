"""What the self-training recipes had to choose from: tiny-lrm's cached rollouts (greedy plus samples)
on the train problems, per sample index, and how often the shortest correct trace was a sample.

    python benchmarks/rollout_stats.py
"""

from statistics import mean

from brevity.zoo.build import parent_rollouts
from brevity.zoo.registry import ZOO_DIR

problems, groups = parent_rollouts(ZOO_DIR / "tiny-lrm")  # read from the cache when present
for s in range(len(groups[0])):
    print(f"sample {s}: correct {mean(g[s].correct for g in groups):.3f}, "
          f"thinking tokens {mean(len(g[s].thinking_ids) for g in groups):.1f}")
best = [(g[0], min((r for r in g if r.correct), key=lambda r: (len(r.thinking_ids), r.sample)))
        for g in groups if any(r.correct for r in g)]
print(f"questions with a correct trace: {len(best)} of {len(groups)}; shortest correct is a sample on "
      f"{mean(b.sample != 0 for _, b in best):.1%}; shortest {mean(len(b.thinking_ids) for _, b in best):.1f} "
      f"vs greedy {mean(len(g.thinking_ids) for g, _ in best):.1f} thinking tokens")
