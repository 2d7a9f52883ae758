#!/usr/bin/env bash
# The `arith` latent reference checkpoints in the zoo (docs/findings/history.md, the latent family's first round), as run on 2026-11-28
# in a brevity-runs/ without the first runs' folders: the compact model (`compact`, the same schedule as
# `coconut --stages 0` in results_latent.sh), Coconut c=2 and CODI, trained again by the commands of
# results_latent.sh and results_latent_arith.sh, installed as zoo members, benched on the same 2,000 test
# problems and read back with `brevity explain`. About 37 min of training.
set -euo pipefail
R=brevity-runs/latent-arith
C=brevity-runs/tiny-compact-arith
brevity train compact --base tiny-base --task arith --out $C --stage0-steps 1000 --n-train 20000
brevity train coconut --base $C --task arith --out brevity-runs/tiny-coconut-arith-c2 --stages 5 --per-step 2 \
  --stage0-steps 0 --steps 600 --n-train 20000
brevity train codi --base $C --task arith --n-train 20000 --out $R/codi --stages 5 --per-step 1 \
  --steps 300
python benchmarks/install_zoo_member.py $C tiny-arith-compact
python benchmarks/install_zoo_member.py brevity-runs/tiny-coconut-arith-c2 tiny-arith-coconut
python benchmarks/install_zoo_member.py $R/codi tiny-arith-codi
brevity bench --task arith --model tiny-arith-compact --n 2000 --latency-n 20 --batch-size 64 --out $R/bench-zoo \
  --methods "coconut@tiny-arith-compact,coconut@tiny-arith-coconut,coconut@tiny-arith-codi"
python benchmarks/latent_table.py $R/bench-zoo src/brevity/zoo/checkpoints > docs/results/latent_arith_zoo.md
brevity explain --model tiny-arith-coconut --task arith --n 500 --out $R/explain-zoo-coconut.json \
  > docs/results/explain_coconut_arith_zoo.txt 2>&1
brevity explain --model tiny-arith-codi --task arith --n 500 --out $R/explain-zoo-codi.json \
  > docs/results/explain_codi_arith_zoo.txt 2>&1
