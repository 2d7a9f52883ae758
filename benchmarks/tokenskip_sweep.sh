#!/usr/bin/env bash
# TokenSkip sweep on validation (issue 22): learning rate, LoRA or full, number of questions; 3 epochs each
# (280 steps of 16 on the 1,490 correct traces of 1,500 questions, 1,110 on the correct ones of 6,000).
set -uo pipefail
# Re-runnable: a finished setting is only benched again; a stopped one resumes from its last checkpoint.
cd "$(dirname "$0")/.."
R=${TOKENSKIP_SWEEP_DIR:-brevity-runs/tokenskip-sweep}
mkdir -p "$R"
run() {  # name, train args...
  name=$1; shift
  [ -n "${ONLY:-}" ] && [ "$name" != "$ONLY" ] && return  # ONLY=NAME runs one setting
  if [ ! -f $R/$name/model.safetensors ]; then
    resume=(); ls $R/$name/checkpoints/step-*.pt >/dev/null 2>&1 && resume=(--resume)
    [ ${#resume[@]} -eq 0 ] && rm -rf "$R/$name"  # stopped before its first checkpoint: start it over
    brevity train tokenskip --base tiny-lrm --out $R/$name "${resume[@]}" "$@" > $R/$name.train.log 2>&1 \
      || { echo "train $name failed"; return; }
  fi
  brevity bench --split validation --n 300 --latency-n 0 --batch-size 64 \
    --methods "tokenskip:1.0@$R/$name,tokenskip:0.8@$R/$name,tokenskip:0.6@$R/$name" --out $R/bench-$name > $R/$name.bench.log 2>&1
  echo "== $name"; grep -E "^\| tokenskip" $R/bench-$name/report.md | head -5
}
[ -d $R/bench-cot ] || brevity bench --split validation --n 300 --latency-n 0 --batch-size 64 --methods cot --out $R/bench-cot > $R/cot.bench.log 2>&1
echo "== cot"; grep -E "^\| cot" $R/bench-cot/report.md | head -3
run lora8-5e-5 --steps 280 --lr 5e-5 --lora-rank 8
run lora8-5e-4 --steps 280 --lr 5e-4 --lora-rank 8
run full-5e-5 --steps 280 --lr 5e-5 --lora-rank 0
run full-2e-4 --steps 280 --lr 2e-4 --lora-rank 0
run lora8-5e-5-q6000 --steps 1110 --lr 5e-5 --lora-rank 8 --questions 6000  # the official recipe's data size
run full-1e-5 --steps 280 --lr 1e-5 --lora-rank 0  # the lower full learning rate, below the 5e-5 that broke the plain prompt
