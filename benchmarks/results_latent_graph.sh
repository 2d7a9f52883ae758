#!/usr/bin/env bash
# The latent family on `graph` (ProsQA-style reachability, depth 3-5 over 12 concepts; docs/RESULTS.md "Latent
# family"), as run on 2026-11-28, one training at a time.
set -euo pipefail
R=brevity-runs/latent-graph
val() { brevity bench --task graph --model "$1" --split validation --n 200 --latency-n 0 --batch-size 64 \
  --out "$2" --methods coconut; }
# 1. The compact chain from tiny-base as it is: 5,000 steps on 100,000 problems stay at 5% (loss 0.98)
brevity train compact --base tiny-base --task graph --n-train 100000 --out $R/compact-5k --stages 0 --stage0-steps 5000
val $R/compact-5k $R/val-compact
python benchmarks/chain_steps.py $R/val-compact/records.jsonl graph
# 2. tiny-base never saw graph's words: their tied embedding rows are one vector. Redrawn (--reinit-untrained),
#    1,000 steps, then 4,000 more (mult's schedule)
brevity train compact --base tiny-base --task graph --n-train 100000 --out $R/compact-reinit-1k --stages 0 \
  --stage0-steps 1000 --reinit-untrained
val $R/compact-reinit-1k $R/val-compact-reinit-1k
brevity train compact --base $R/compact-reinit-1k --task graph --n-train 100000 --out $R/compact-reinit-5k --stages 0 \
  --stage0-steps 4000
val $R/compact-reinit-5k $R/val-compact-reinit-5k
for v in val-compact-reinit-1k val-compact-reinit-5k; do python benchmarks/chain_steps.py $R/$v/records.jsonl graph; done
