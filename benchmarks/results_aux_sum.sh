#!/usr/bin/env bash
# The running-sum auxiliary loss on 4-by-4 multiplication (docs/methods/latent.md), one training at a time,
# resumable: rerun the same step and each training continues from its last checkpoint, each finished bench is kept.
# Step "pilot" (on validation): 2 layers, 4 heads, trained from scratch on answer-only `mult:order=lsd`, 8,000 steps
# each at a constant lr of 1e-3; the auxiliary weight swept at width 128 (0 is the plain fine-tuning baseline at the
# same shape and data), then the best weight at width 256. Chosen by exact match, then per-digit accuracy, on 500
# validation problems. The sweep went 0, 1, 0.1; 1 was best, so it went up (10, 3) rather than down (0.01, stopped).
set -euo pipefail
R=brevity-runs/aux-sum
V="--task mult:order=lsd --split validation --n 500 --batch-size 100 --latency-n 0"
COMMON="--base tiny-base --scratch --layers 2 --heads 4 --n-train 200000 --stages 1 --lr 1e-3 --lr-schedule constant \
  --warmup 100 --checkpoint-every 500"  # the run step's checkpoints: every 500 steps too
step=${1:-pilot}
case "$step" in pilot|pilot-width|probe|run|test|plain) ;; *) echo "error: unknown step '$step'; one of: pilot pilot-width probe run test plain" >&2; exit 2 ;; esac

run() {  # NAME, then the options that differ
  local name=$1; shift
  local out=$R/$name
  if [ ! -f $out/manifest.json ]; then
    local resume=""; [ -d $out/checkpoints ] && resume="--resume"
    brevity train aux-sum --out $out $COMMON "$@" $resume
  fi
  [ -f $R/val-$name/summary.json ] || brevity bench $V --model $out --methods coconut@$out --out $R/val-$name >/dev/null
}

if [ "$step" = pilot ]; then
  for w in 0 1 0.1 10 3; do run pilot-w128-l$w --steps 8000 --width 128 --aux-weight $w; done
  python benchmarks/digit_accuracy.py --split validation $R/val-pilot-w128-l{0,1,0.1,10,3}
fi
if [ "$step" = pilot-width ]; then
  W=${AUX_WEIGHT:?set AUX_WEIGHT to the weight the pilot chose}
  run pilot-w256-l$W --steps 8000 --width 256 --aux-weight $W
  python benchmarks/digit_accuracy.py --split validation $R/val-pilot-w128-l$W $R/val-pilot-w256-l$W
fi
# Step "probe": the linear probe for the running sums (brevity explain --probe) on 2,000 validation problems, on the
# plain baseline and the chosen weight, each model's last block.
if [ "$step" = probe ]; then
  for m in ${PROBE_MODELS:-pilot-w128-l0 pilot-w128-l3}; do
    brevity explain --model $R/$m --task mult:order=lsd --split validation --n 2000 --probe running-sums \
      --out $R/probe-$m.json
  done
fi

# Step "run": the chosen setting to convergence, at most 80,000 steps, ended early when the validation loss (256
# held-out training problems, every 2,000 steps) has not improved for 5 evaluations. It resumes from its own
# checkpoints in $R (every 500 steps), or from the checkpoint committed in resume/aux-sum-mult/ (its two files:
# step-N.pt, 2.1 MB, and optimizer-N.pt, 4.3 MB, each under the repository's 5 MB limit).
if [ "$step" = run ]; then
  W=${AUX_WIDTH:-128}
  out=$R/run-w$W-l3
  RESUME=""
  if ls resume/aux-sum-mult/step-*.pt >/dev/null 2>&1; then
    if ! ls $out/checkpoints/step-*.pt >/dev/null 2>&1; then
      mkdir -p $out/checkpoints && cp resume/aux-sum-mult/*.pt $out/checkpoints/
    fi
    RESUME=--resume
  elif [ -d $out/checkpoints ]; then
    RESUME=--resume
  fi
  [ -f $out/manifest.json ] || brevity train aux-sum --out $out $COMMON --steps 80000 --width $W --aux-weight 3 \
    --eval-every 2000 --val 256 --patience 5 $RESUME
  [ -f $R/val-run-w$W-l3/summary.json ] || brevity bench $V --model $out --methods coconut@$out \
    --out $R/val-run-w$W-l3 >/dev/null
  python benchmarks/digit_accuracy.py --split validation $R/val-run-w$W-l3
fi

# Step "test": the finished run (the zoo's tiny-mult-aux-sum) on the 2,000 test problems beside the zoo's no-chain
# baseline, per-digit accuracy, and its running-sum probe on the 2,000 validation problems the pilot's probes read.
if [ "$step" = test ]; then
  W=${AUX_WIDTH:-128}
  out=$R/run-w$W-l3
  [ -f $R/test-run-w$W-l3/summary.json ] || brevity bench --task mult:order=lsd --split test --n 2000 --batch-size 100 \
    --latency-n 20 --model $out --methods coconut@$out,coconut@tiny-mult-nochain --out $R/test-run-w$W-l3
  python benchmarks/digit_accuracy.py --split test $R/test-run-w$W-l3
  [ -f $R/probe-run-w$W-l3.json ] || brevity explain --model $out --task mult:order=lsd --split validation --n 2000 \
    --probe running-sums --out $R/probe-run-w$W-l3.json
fi

# Step "plain": the same recipe without the loss (weight 0), to the same early-stopping rule, so that the finished
# run's accuracy is compared at equal length; it resumes from its own checkpoints or from resume/aux-sum-plain/.
if [ "$step" = plain ]; then
  out=$R/plain-w128
  RESUME=""
  if ls resume/aux-sum-plain/step-*.pt >/dev/null 2>&1 && ! ls $out/checkpoints/step-*.pt >/dev/null 2>&1; then
    mkdir -p $out/checkpoints && cp resume/aux-sum-plain/*.pt $out/checkpoints/
  fi
  [ -d $out/checkpoints ] && RESUME=--resume
  [ -f $out/manifest.json ] || brevity train aux-sum --out $out $COMMON --steps 80000 --width 128 --aux-weight 0 \
    --eval-every 2000 --val 256 --patience 5 $RESUME
  [ -f $R/test-plain-w128/summary.json ] || brevity bench --task mult:order=lsd --split test --n 2000 --batch-size 100 \
    --latency-n 0 --model $out --methods coconut@$out --out $R/test-plain-w128 >/dev/null
  python benchmarks/digit_accuracy.py --split test $R/test-plain-w128
fi
