#!/usr/bin/env bash
# The latent family on `graph` (ProsQA-style), every method from the same 0.96M-parameter tiny-base,
# one training at a time (docs/RESULTS.md "Latent family"). Methods after `compact` start from the
# compact model (Coconut's stage 0) and train 750 more steps; `nochain` gets the same 1,750 in all.
set -euo pipefail
R=brevity-runs/latent-graph
T="--task graph --n-train 20000"
brevity train compact --base tiny-base $T --out $R/compact --stages 0 --stage0-steps 1000
brevity train nochain --base tiny-base $T --out $R/nochain --stages 5 --steps 350 --stage0-steps 0
brevity train coconut --base $R/compact $T --out $R/coconut --stages 5 --per-step 1 --steps 150 --stage0-steps 0
brevity train pause-curriculum --base $R/compact $T --out $R/pause-curriculum --stages 5 --per-step 1 --steps 150 \
  --stage0-steps 0
brevity train pause --base $R/compact $T --out $R/pause --stages 5 --per-step 1 --steps 150 --stage0-steps 0
brevity train icot --base $R/compact $T --out $R/icot --remove-per-stage 8 --steps 150 --stage0-steps 0
brevity train codi --base $R/compact $T --out $R/codi --stages 5 --per-step 1 --steps 150 --stage0-steps 0
