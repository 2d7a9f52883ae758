#!/usr/bin/env bash
# While a curriculum trains with --save-stages, run every EVERY-th saved stage (and the final model) on 200
# validation problems as it appears, and append "stage accuracy thinking-tokens positions" to a table: the training curve in
# accuracy, kept outside brevity-runs so that it survives the run's folder. Stops when RUN/manifest.json exists
# and every stage is measured.
#   bash benchmarks/stage_curve.sh RUN TASK EVERY TABLE
set -euo pipefail
run=$1 task=$2 every=$3 table=$4
touch "$table"
while true; do
  final=0; [ -f "$run/manifest.json" ] && final=1
  for d in "$run"/stage-*; do
    [ -d "$d" ] || continue
    k=${d##*stage-}
    { [ $((k % every)) = 0 ] && ! grep -q "^$k " "$table"; } || continue
    brevity bench --task "$task" --split validation --n 200 --batch-size 64 --latency-n 0 --model "$d" \
      --methods "coconut@$d" --out "$run/val-stage-$k" >/dev/null 2>&1
    python -c "import json,sys; s=json.load(open('$run/val-stage-$k/summary.json'))[0];
print('$k', s['accuracy'], s['mean_thinking_tokens'], s['mean_generated_positions'])" >> "$table"
  done
  if [ $final = 1 ]; then
    if ! grep -q "^final " "$table"; then
      brevity bench --task "$task" --split validation --n 200 --batch-size 64 --latency-n 0 --model "$run" \
        --methods "coconut@$run" --out "$run/val-final" >/dev/null 2>&1
      python -c "import json; s=json.load(open('$run/val-final/summary.json'))[0];
print('final', s['accuracy'], s['mean_thinking_tokens'], s['mean_generated_positions'])" >> "$table"
    fi
    exit 0
  fi
  sleep 60
done
