#!/usr/bin/env bash
# Kimi's length reward on tiny-lrm-sampled, chosen on validation (issue 22): one GRPO run per setting,
# checkpointed every 40 steps (RL_CHECKPOINT_EVERY); every checkpoint is benched with `cot` on 300 validation problems, so one run
# gives the curve over steps. Re-runnable: a finished run is only benched again, a stopped one resumes.
# Usage: bash benchmarks/rl_length_sweep.sh NAME STEPS LR GROUP LIMIT   (e.g. g8-3e-4 200 3e-4 8 1200)
set -uo pipefail
cd "$(dirname "$0")/.."
R=${RL_SWEEP_DIR:-brevity-runs/rl-length-sweep}
BASE=${RL_BASE:-tiny-lrm-sampled}
name=$1 steps=$2 lr=$3 group=$4 limit=$5 every=${RL_CHECKPOINT_EVERY:-40}
mkdir -p "$R"
bench() {  # label, model folder
  [ -f "$R/bench-$1/summary.json" ] || brevity bench --split validation --n 300 --latency-n 0 --batch-size 64 \
    --methods "cot@$2" --out "$R/bench-$1" > "$R/$1.bench.log" 2>&1
  echo "== $1"; grep -E "^\| cot" "$R/bench-$1/report.md" | head -1
}
bench base "$BASE"
if [ ! -f "$R/$name/model.safetensors" ]; then
  resume=(); ls -d "$R/$name"/checkpoints/grpo/checkpoint-* >/dev/null 2>&1 && resume=(--resume)
  [ ${#resume[@]} -eq 0 ] && rm -rf "${R:?}/$name"  # stopped before its first checkpoint: start it over
  brevity train rl-length --base "$BASE" --out "$R/$name" --steps "$steps" --lr "$lr" --group-size "$group" \
    --completion-limit "$limit" --checkpoint-every "$every" "${resume[@]}" > "$R/$name.train.log" 2>&1 \
    || { echo "train $name failed (see $R/$name.train.log)"; exit 1; }
fi
for ck in $(ls -d "$R/$name"/checkpoints/grpo/checkpoint-* | sort -V); do
  bench "$name-$(basename "$ck")" "$ck"
done
