#!/usr/bin/env bash
# `graph` (ProsQA-style) and 4-by-4 `mult`: the compact-chain baselines the latent methods would start
# from, as run (docs/findings/latent.md and history.md). Both stayed near zero at 1,000 steps; `mult` in iCoT's
# digit order with 4,000 more steps trains to 100% (the end of this file), and benchmarks/results_latent_mult.sh
# runs the family from it.
set -euo pipefail
brevity train compact --base tiny-base --task graph --n-train 20000 --out brevity-runs/latent-graph/compact \
  --stage0-steps 1000
brevity bench --task graph --model brevity-runs/latent-graph/compact --split validation --n 100 --latency-n 0 \
  --batch-size 64 --out brevity-runs/latent-graph/val --methods coconut
brevity train coconut --base tiny-base --task mult --out brevity-runs/tiny-compact-mult --stages 0 --stage0-steps 1000 \
  --n-train 20000
brevity bench --task mult --model brevity-runs/tiny-compact-mult --split validation --n 100 --latency-n 0 \
  --batch-size 64 --out brevity-runs/latent-mult/val --methods coconut
# 2026-11-27 night: `mult` with every number least significant digit first (order=lsd, iCoT's format),
# 1,000 steps from tiny-base, then 4,000 more on 100,000 problems; each benched on 100 validation problems.
brevity train compact --base tiny-base --task mult:order=lsd --n-train 20000 --out brevity-runs/latent-mult-lsd/compact \
  --stage0-steps 1000
brevity bench --task mult:order=lsd --model brevity-runs/latent-mult-lsd/compact --split validation --n 100 \
  --latency-n 0 --batch-size 64 --out brevity-runs/latent-mult-lsd/val --methods coconut
brevity train compact --base brevity-runs/latent-mult-lsd/compact --task mult:order=lsd --n-train 100000 \
  --out brevity-runs/latent-mult-lsd/compact-5k --stage0-steps 4000
brevity bench --task mult:order=lsd --model brevity-runs/latent-mult-lsd/compact-5k --split validation --n 100 \
  --latency-n 0 --batch-size 64 --out brevity-runs/latent-mult-lsd/val-5k --methods coconut
python benchmarks/chain_steps.py brevity-runs/latent-mult-lsd/val/records.jsonl mult:order=lsd
python benchmarks/chain_steps.py brevity-runs/latent-mult-lsd/val-5k/records.jsonl mult:order=lsd
# the control: the usual order, the same 4,000 more steps from the 1,000-step compact model
brevity train compact --base brevity-runs/tiny-compact-mult --task mult --n-train 100000 \
  --out brevity-runs/latent-mult/compact-5k --stage0-steps 4000
brevity bench --task mult --model brevity-runs/latent-mult/compact-5k --split validation --n 100 --latency-n 0 \
  --batch-size 64 --out brevity-runs/latent-mult/val-5k --methods coconut
python benchmarks/chain_steps.py brevity-runs/latent-mult/val-5k/records.jsonl mult
