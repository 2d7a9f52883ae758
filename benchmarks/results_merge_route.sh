#!/usr/bin/env bash
# The merging and routing numbers in docs/findings/merging-routing.md (issue 5), in the order they were run, after
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
# 3. Issue 22: the same with a fast member that reasons briefly (tiny-llm-brief, from `brevity zoo build`).
#    The sweep chooses on validation; its choice, the brief parent and the cascade run once on test.
brevity merge sweep --fast tiny-llm-brief --out brevity-runs/merge-brief --methods task_arithmetic,ties,dare_ties,slerp \
  --weights 0.3,0.5,0.7,0.8,0.9 --densities 0.9 --n 200
cp brevity-runs/merge-brief/sweep.json docs/results/sweep_brief.json
cp brevity-runs/merge-brief/merge_curve.png docs/results/merge_curve_brief.png
brevity bench --n 2000 --latency-n 0 --batch-size 64 --out brevity-runs/test-brief --methods \
  "cot,cot@brevity-runs/merge-brief/models/ties-w0.3-d0.9,cot@tiny-llm-brief,route:kind=cascade;strong=cot;fast=tiny-llm-brief"
for a in cot@ties-w0.3-d0.9 cot@tiny-llm-brief "route:fast=tiny-llm-brief;kind=cascade;strong=cot"; do
  python benchmarks/paired_diff.py brevity-runs/test-brief/records.jsonl "$a" cot
done
