#!/usr/bin/env bash
# The merging and routing numbers in docs/RESULTS.md (issue 5), in the order they were run, after
# benchmarks/results_explicit.sh. One job at a time on the two cores.
set -euo pipefail
# 1. Merge sweep on 200 validation problems: 5 weights x (task_arithmetic, slerp, and ties, dare_ties,
#    dare_linear at densities 0.5 and 0.9), plus both parents; curve in merge_curve.png.
brevity merge sweep --out brevity-runs/merge-sweep --weights 0.5,0.7,0.8,0.9,0.95 --densities 0.5,0.9 --n 200
cp brevity-runs/merge-sweep/{sweep.json,merge_curve.png} docs/results/
# 2. Routing curves on the 2,000 test problems (thresholds calibrated on 500 validation problems, the
#    router trained on 1,000 training problems); both sides' runs are cached under ~/.cache/brevity/route.
ROUTES="route:cascade,route:router,route:switch,route:kind=cascade;strong=cot"
brevity route eval --routes "$ROUTES" --n 2000 --out brevity-runs/routes
cp brevity-runs/routes/{routes.json,routes.md,routing.png} docs/results/
