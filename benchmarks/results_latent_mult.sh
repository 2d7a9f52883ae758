#!/usr/bin/env bash
# The latent family on 4-by-4 `mult` in iCoT's digit order (mult:order=lsd; docs/RESULTS.md "Latent family"),
# one training at a time. Every method starts from the same compact-chain model, 100% on 100 validation
# problems (brevity-runs/latent-mult-lsd/compact-5k: tiny-base plus 5,000 steps, the end of
# benchmarks/results_latent_graph_mult.sh), and trains on 100,000 problems: 300 steps per stage where it has a
# curriculum (7 stages, one per chain step; icot: 16 of the 140 chain tokens per stage, 9 stages), 7 x 300 steps
# where it has none. Each model is checked on 200 validation problems before the test bench.
set -euo pipefail
R=brevity-runs/latent-mult-lsd
C=$R/compact-5k
T="--task mult:order=lsd --n-train 100000 --stage0-steps 0"
brevity train icot --base $C $T --out $R/icot --remove-per-stage 16 --steps 300
brevity train nochain --base $C $T --out $R/nochain --stages 7 --per-step 1 --steps 300
brevity train pause --base $C $T --out $R/pause --stages 7 --per-step 1 --steps 300
brevity train pause-curriculum --base $C $T --out $R/pause-curriculum --stages 7 --per-step 1 --steps 300
brevity train coconut --base $C $T --out $R/coconut --stages 7 --per-step 1 --steps 300
brevity train codi --base $C $T --out $R/codi --stages 7 --per-step 1 --steps 300
for m in icot nochain pause pause-curriculum coconut codi; do
  brevity bench --task mult:order=lsd --model $R/$m --split validation --n 200 --latency-n 0 --batch-size 64 \
    --out $R/val-$m --methods coconut
done
