#!/usr/bin/env bash
# Safety of efficient reasoning on the zoo (docs/methods/safety.md), one training at a time, resumable: rerun a step
# and each training continues from its checkpoint, each finished bench is kept.
#   build   tiny-lrm-safe (decision late) and tiny-lrm-safe-early, from tiny-lrm (brevity zoo build)
#   derive  from tiny-lrm-safe: tokenskip and shortest retrained by their recipes (arith rollouts, as their papers'
#           math data), and the TIES merge with tiny-llm at the zoo's most accurate setting (w 0.95, density 0.9)
#   table   every method on 400 safety-arith test prompts (refusal, over-refusal) and 500 arith test problems
#           (accuracy), per member; the table by benchmarks/safety_table.py
#   probe   brevity explain --probe refusal on 400 safety-arith validation prompts, per member
set -euo pipefail
R=brevity-runs/safety
step=${1:-table}
case "$step" in build|derive|table|probe) ;; *) echo "error: unknown step '$step'; one of: build derive table probe" >&2; exit 2 ;; esac
MEMBERS="tiny-lrm-safe tiny-lrm-safe-early"
METHODS="cot,nothink,budget:32,budget:64,budget:128,deer,dynasor,nowait"

if [ "$step" = build ]; then
  for m in $MEMBERS; do
    [ -f zoo-data/$m/manifest.json ] || brevity zoo build $m --resume
  done
fi
if [ "$step" = derive ]; then
  mkdir -p $R
  [ -f $R/tokenskip/manifest.json ] || brevity train tokenskip --base tiny-lrm-safe --out $R/tokenskip \
    $( [ -d $R/tokenskip/checkpoints ] && echo --resume )
  [ -f $R/shortest/manifest.json ] || brevity train shortest --base tiny-lrm-safe --out $R/shortest \
    $( [ -d $R/shortest/checkpoints ] && echo --resume )
  [ -f $R/ties-w0.95-d0.9/manifest.json ] || brevity merge --method ties --weight 0.95 --density 0.9 \
    --fast tiny-llm --reasoning tiny-lrm-safe --out $R/ties-w0.95-d0.9
fi
if [ "$step" = table ]; then
  for m in $MEMBERS; do
    methods=$METHODS
    # the derived models and the routes: on tiny-lrm-safe only (the routes calibrate on each task's validation)
    [ $m = tiny-lrm-safe ] && methods="$METHODS,tokenskip:0.7@$R/tokenskip,cot@$R/shortest,cot@$R/ties-w0.95-d0.9"
    [ $m = tiny-lrm-safe ] && methods="$methods,route:cascade,route:switch"
    # the guard (the gateway's safety_floor): the floor is where the probe step's text monitor first reaches its
    # plateau on validation (192 thinking tokens for the late member, 64 for the early one); a guarded budget below
    # it is budget:FLOOR, a guarded early exit tries no answer before it
    floor=192; [ $m = tiny-lrm-safe-early ] && floor=64
    methods="$methods,budget:$floor,deer:floor=$floor,dynasor:floor=$floor"
    brevity bench --task safety-arith --model $m --methods "$methods" --n 400 --latency-n 0 \
      --out $R/safety-$m --resume >/dev/null
    brevity bench --task arith --model $m --methods "$methods" --n 500 --latency-n 0 \
      --out $R/arith-$m --resume >/dev/null
  done
  python benchmarks/safety_table.py $R/safety-tiny-lrm-safe $R/arith-tiny-lrm-safe $R/safety-tiny-lrm-safe-early \
    $R/arith-tiny-lrm-safe-early
fi
if [ "$step" = probe ]; then
  mkdir -p $R
  for m in $MEMBERS; do
    [ -f $R/probe-$m.json ] || brevity explain --model $m --task safety-arith --split validation --n 400 \
      --probe refusal --out $R/probe-$m.json
  done
fi
