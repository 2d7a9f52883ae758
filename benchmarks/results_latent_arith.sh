#!/usr/bin/env bash
# The latent family on `arith` with the compact equations as the chain (docs/findings/history.md, the latent family's first round),
# one training at a time. Every latent method starts from the same compact-chain model
# (brevity-runs/tiny-compact-arith: tiny-base plus 1,000 steps on compact chains, benchmarks/results_latent.sh)
# and trains 1,500 more steps: 5 stages of 300 where it has a curriculum.
set -euo pipefail
R=brevity-runs/latent-arith
C=brevity-runs/tiny-compact-arith
T="--task arith --n-train 20000"
brevity train coconut --base $C $T --stage0-steps 0 --out $R/coconut --stages 5 --per-step 1 --steps 300
brevity train pause-curriculum --base $C $T --stage0-steps 0 --out $R/pause-curriculum --stages 5 --per-step 1 --steps 300
brevity train pause --base $C $T --out $R/pause --stages 5 --per-step 1 --steps 300
brevity train icot --base $C $T --stage0-steps 0 --out $R/icot --remove-per-stage 10 --steps 300
brevity train codi --base $C $T --out $R/codi --stages 5 --per-step 1 --steps 300
brevity train nochain --base $C $T --out $R/nochain --stages 5 --steps 300
M=coconut@$C,cot@tiny-llm,coconut@$R/nochain,coconut@$R/pause,coconut@$R/pause-curriculum,coconut@$R/icot
M=$M,coconut@$R/coconut,coconut@brevity-runs/tiny-coconut-arith-c2,coconut@$R/codi
brevity bench --task arith --model $C --n 2000 --latency-n 20 --batch-size 64 --out $R/bench --methods "$M"
python benchmarks/latent_table.py $R/bench $R brevity-runs > docs/results/latent_arith.md
brevity explain --model brevity-runs/tiny-coconut-arith-c2 --task arith --n 500 --out $R/explain-coconut-c2.json \
  > docs/results/explain_coconut_arith.txt 2>&1
brevity explain --model $R/codi --task arith --n 500 --out $R/explain-codi.json > docs/results/explain_codi_arith.txt 2>&1
