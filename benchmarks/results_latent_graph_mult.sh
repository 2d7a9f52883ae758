#!/usr/bin/env bash
# `graph` (ProsQA-style) and 4-by-4 `mult`: the compact-chain baselines the latent methods would start
# from, as run (docs/RESULTS.md "Latent family"). Both stayed near zero, so no latent method was trained
# on these tasks.
set -euo pipefail
brevity train compact --base tiny-base --task graph --n-train 20000 --out brevity-runs/latent-graph/compact --stages 0 \
  --stage0-steps 1000
brevity bench --task graph --model brevity-runs/latent-graph/compact --split validation --n 100 --latency-n 0 \
  --batch-size 64 --out brevity-runs/latent-graph/val --methods coconut
brevity train coconut --base tiny-base --task mult --out brevity-runs/tiny-compact-mult --stages 0 --stage0-steps 1000 \
  --n-train 20000
brevity bench --task mult --model brevity-runs/tiny-compact-mult --split validation --n 100 --latency-n 0 \
  --batch-size 64 --out brevity-runs/latent-mult/val --methods coconut
