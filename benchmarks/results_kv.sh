#!/usr/bin/env bash
# KV-cache policies on the zoo (docs/methods/memory.md, docs/findings/memory.md). Each step is one `brevity bench`
# run; a finished run is kept, a stopped one resumes (--resume).
# Step "val": every policy at budgets of 48 to 192 trace tokens on 500 validation `arith` problems, tiny-lrm's
#   `cot` (its verbose re-checks are redundant by construction), capped at 768 tokens (full's longest trace there is
#   739; an evicting run that loses its place loops to the cap); the budget each policy takes to test is the
#   smallest whose validation accuracy holds against full (paired 95% interval above -1 point). A pilot at budget
#   32 (streaming) kept 2% accuracy and ran to the cap on 147 of 192 problems: stopped.
# Step "test": full and each policy at its chosen budget (KV_BUDGETS="streaming=N h2o=N rkv=N rpc=N") on the 2,000
#   test problems, then the same budgets under `deer` and `budget:128` (the composition).
# Step "mult": 4-by-4 multiplication with tiny-mult-compact's compact chain, where nothing is redundant, at budgets of
#   25, 50 and 75% of the trace so far (a window of 4 and compressions of 4 slots: the chains are short).
set -euo pipefail
R=brevity-runs/kv
step=${1:-val}
case "$step" in val|test|mult) ;; *) echo "error: unknown step '$step'; one of: val test mult" >&2; exit 2 ;; esac
mkdir -p $R

policies() {  # every policy at each budget in $@ (with $KV_EXTRA appended to each, e.g. ";window=4;every=4")
  local out="full"
  for b in "$@"; do
    for p in streaming h2o rkv rpc; do out="$out,$p:budget=$b${KV_EXTRA:-}"; done
  done
  echo "$out"
}

if [ "$step" = val ]; then
  brevity bench --task arith --split validation --n 500 --latency-n 0 --batch-size 64 --methods cot \
    --max-tokens 768 --kv "$(policies 48 64 96 128 160 192)" --out $R/val --resume
fi

if [ "$step" = test ]; then
  : "${KV_BUDGETS:?set KV_BUDGETS, e.g. \"streaming=96 h2o=64 rkv=48 rpc=64\", from the val step}"
  kv="full"
  for pb in $KV_BUDGETS; do kv="$kv,${pb%%=*}:budget=${pb#*=}"; done
  brevity bench --task arith --split test --n 2000 --latency-n 20 --batch-size 64 --methods cot \
    --kv "$kv" --out $R/test --resume
  brevity bench --task arith --split test --n 500 --latency-n 0 --batch-size 64 --methods deer,budget:128 \
    --kv "$kv" --out $R/test-compose --resume
fi

if [ "$step" = mult ]; then
  brevity bench --task mult:order=lsd --split validation --n 500 --latency-n 0 \
    --batch-size 64 --model tiny-mult-compact --methods cot --kv "$(KV_EXTRA=";window=4;every=4" policies 25% 50% 75%)" \
    --out $R/mult --resume
fi
