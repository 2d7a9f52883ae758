#!/usr/bin/env bash
# Issue 23: the latent family at its papers' training shape (docs/findings/latent.md, "Trained closer to the
# papers' recipes"), one training at a time, resumable: each zoo build continues from its last checkpoint when rerun.
# Step 1, mult: iCoT's own terse chain (51 tokens), learnt from tiny-mult-compact; as run on 2026-12-05 with
# `brevity train compact --chain terse` into brevity-runs/i23 (1,500 then 4,000 steps, lr 1e-3 cosine), which
# the two zoo members below reproduce.
# `bash benchmarks/results_latent_official.sh icot` runs step 3 alone (what a later session resumes).
set -euo pipefail
R=brevity-runs/i23
V="--task mult:order=lsd --split validation --n 200 --batch-size 64 --latency-n 0"
step=${1:-all}
STEPS=$(grep -o '"$step" = [a-z0-9-]*' "$0" | awk 'NF == 3 {print $3}' | sort -u | tr '\n' ' ')
case " $STEPS " in *" $step "*) ;; *) echo "error: unknown step '$step'; one of: $STEPS" >&2; exit 2 ;; esac
if [ "$step" = all ]; then
brevity train compact --task mult:order=lsd --chain terse --base tiny-mult-compact --stage0-steps 1500 \
  --n-train 100000 --out $R/mult-terse-compact                # = zoo tiny-mult-terse-1k5; 27.5% on validation
brevity train compact --task mult:order=lsd --chain terse --base $R/mult-terse-compact \
  --stage0-steps 4000 --n-train 100000 --out $R/mult-terse-compact-2   # = zoo tiny-mult-terse; 100.0%
brevity bench $V --model $R/mult-terse-compact-2 --methods coconut@$R/mult-terse-compact-2 --out $R/val-terse-compact-2

# Step 2, mult iCoT's learning rate on validation: constant lr, no warm-up, the optimizer reset at each removed
# token (the official recipe), 500 steps per token; each run stopped after 7 minutes, then compared at equal
# steps by the validation loss of the stage it is in (256 held-out training problems).
for lr in 1e-3 3e-4; do
  timeout 420 brevity train icot --base $R/mult-terse-compact-2 --task mult:order=lsd --chain terse \
    --n-train 100000 --stage0-steps 0 --remove-per-stage 1 --steps 500 --lr $lr --lr-schedule constant --warmup 0 \
    --eval-every 100 --val 256 --checkpoint-every 100 --out $R/pilot-icot-lr$lr || true
done
python benchmarks/checkpoint_history.py $R/pilot-icot-lr1e-3 $R/pilot-icot-lr3e-4
# (chosen: 3e-4; at 1e-3 the stage losses end higher and jump more, docs/findings/latent.md)
fi

# Step 3, mult iCoT at half the official rate of tokens removed per example seen (1,600 steps x 32 = 51,200
# examples per token; official 808k / 8 = 101k), on 400,000 problems, 8,000 steps once the chain is gone; every
# 5th stage measured on validation while it trains. It spans sessions: at a stop, the newest checkpoint written at
# a stage boundary (the optimizer is fresh there, so it holds only the weights and the position, 3.9 MB) is
# committed as resume/icot-mult/step-N.pt; this step puts it back and continues from it.
mkdir -p docs/results
if [ "$step" = all ] || [ "$step" = icot ]; then
RESUME=""
if ls resume/icot-mult/step-*.pt >/dev/null 2>&1; then
  if ! ls $R/icot/checkpoints/step-*.pt >/dev/null 2>&1; then
    mkdir -p $R/icot/checkpoints && cp resume/icot-mult/*.pt $R/icot/checkpoints/
  fi
  RESUME=--resume
fi
brevity train icot --base tiny-mult-terse --task mult:order=lsd --chain terse --n-train 400000 --stage0-steps 0 \
  --remove-per-stage 1 --steps 1600 --final-steps 8000 --lr 3e-4 --lr-schedule constant --warmup 0 \
  --eval-every 400 --val 256 --checkpoint-every 200 --save-stages --out $R/icot $RESUME &
bash benchmarks/stage_curve.sh $R/icot mult:order=lsd 5 docs/results/icot_mult_stages.txt
wait
fi

# Step 4, mult iCoT's model width on validation (`bash benchmarks/results_latent_official.sh width-pilot`): the
# 128-wide run above loses most of its accuracy as soon as the first partial product is hidden; the model of
# the multiplication paper that reverse-engineers iCoT is 2 layers x 768 wide (ajyl/icot, ckpts/2L4H). The same
# parent, widened without changing its outputs (--width), each run through iCoT's first 6 removals at 400 steps
# per token (2,400 steps), then stages 3 and 6 decoded on 200 validation problems and the validation losses
# compared at equal steps.
if [ "$step" = all ] || [ "$step" = width-pilot ]; then
for w in 0 256 384; do
  run=$R/pilot-icot-width$w
  [ -f $run/stage-6/manifest.json ] || {  # the manifest is written last
    brevity train icot --base tiny-mult-terse --task mult:order=lsd --chain terse --n-train 100000 --stage0-steps 0 \
      --remove-per-stage 1 --steps 400 --lr 3e-4 --lr-schedule constant --warmup 0 --width $w --eval-every 200 \
      --val 256 --checkpoint-every 400 --save-stages --out $run $([ -d $run/checkpoints ] && echo --resume) &
    pid=$!
    while [ ! -f $run/stage-6/manifest.json ]; do sleep 10; done
    kill $pid; wait $pid || true
  }
  for k in 3 6; do
    [ -f $run/val-stage-$k/summary.json ] || brevity bench $V --model $run/stage-$k --methods coconut@$run/stage-$k \
      --out $run/val-stage-$k >/dev/null
    python -c "import json; s=json.load(open('$run/val-stage-$k/summary.json'))[0]; print('width $w stage $k', s['accuracy'])"
  done
done
{ python benchmarks/checkpoint_history.py $R/pilot-icot-width0 $R/pilot-icot-width256 $R/pilot-icot-width384; echo
  python benchmarks/icot_sums.py $R/pilot-icot-width*/val-stage-*; } | tee docs/results/icot_mult_width_pilot.md
fi

# Step 5, capacity or steps at the first hidden product (`... hidden-product`): the width pilot's stage 6 is
# at 400 steps per token, a quarter of the run's, so it cannot tell whether a wider model holds the hidden
# first partial product or only needs more steps. Both arms start from the 128-wide run's stage-5 model (the
# first partial product just hidden, 1,600 steps in) and train 2,000 more steps at that same removal
# (--remove-per-stage 5: their stage 1 is the run's stage 5), one as it is, one widened to 256; each is
# decoded on 200 validation problems and its written running sums checked (benchmarks/icot_sums.py).
if [ "$step" = all ] || [ "$step" = hidden-product ]; then
for w in 0 256; do
  run=$R/hidden-product-width$w
  [ -f $run/stage-1/manifest.json ] || {
    brevity train icot --base $R/icot/stage-5 --task mult:order=lsd --chain terse --n-train 100000 --stage0-steps 0 \
      --remove-per-stage 5 --steps 2000 --lr 3e-4 --lr-schedule constant --warmup 0 --width $w --eval-every 500 \
      --val 256 --checkpoint-every 500 --save-stages --out $run $([ -d $run/checkpoints ] && echo --resume) &
    pid=$!
    while [ ! -f $run/stage-1/manifest.json ]; do sleep 10; done
    kill $pid; wait $pid || true
  }
  [ -f $run/val-stage-1/summary.json ] || brevity bench $V --model $run/stage-1 --methods coconut@$run/stage-1 \
    --out $run/val-stage-1 >/dev/null
done
{ python benchmarks/checkpoint_history.py $R/hidden-product-width0 $R/hidden-product-width256; echo
  python benchmarks/icot_sums.py $R/icot/val-stage-5 $R/hidden-product-width0/val-stage-1 \
    $R/hidden-product-width256/val-stage-1; } | tee docs/results/icot_mult_hidden_product.md
fi

# Step 6, arith's stage 0 at convergence (`... arith-compact`): the official Coconut starts from a CoT model
# trained to convergence; tiny-arith-compact had 1,000 steps (79.6% on 500 validation problems). It continues
# on the compact chain at lr 1e-3 (cosine) until the validation loss stops falling (patience 2 x 500 steps).
A=brevity-runs/i23/arith
VA="--task arith --split validation --n 500 --batch-size 64 --latency-n 0"
if [ "$step" = all ] || [ "$step" = arith-compact ]; then
  [ -f $A/compact/manifest.json ] || brevity train compact --base tiny-arith-compact --task arith \
    --stage0-steps 4000 --n-train 20000 --lr 1e-3 --eval-every 500 --val 256 --patience 2 --checkpoint-every 500 \
    --out $A/compact $([ -d $A/compact/checkpoints ] && echo --resume)
  for m in tiny-arith-compact $A/compact; do
    out=$A/val-$(basename $m)
    [ -f $out/summary.json ] || brevity bench $VA --model $m --methods coconut@$m --out $out >/dev/null
    python -c "import json; s=json.load(open('$out/summary.json'))[0]; print('$m', s['accuracy'], s['mean_generated_positions'])"
  done
fi

# Step 7, Coconut's learning rate on arith (`... coconut-lr`): constant, no warm-up, c=2, stage 1 only
# (600 steps), compared by the validation loss (256 held-out training problems) at equal steps.
if [ "$step" = all ] || [ "$step" = coconut-lr ]; then
  for lr in 1e-4 3e-4 1e-3; do
    [ -f $A/coconut-lr$lr/manifest.json ] || brevity train coconut --base $A/compact --task arith --stages 1 \
      --per-step 2 --stage0-steps 0 --steps 600 --n-train 20000 --lr $lr --lr-schedule constant --warmup 0 \
      --eval-every 100 --val 256 --out $A/coconut-lr$lr
  done
  python benchmarks/checkpoint_history.py $A/coconut-lr1e-4 $A/coconut-lr3e-4 $A/coconut-lr1e-3 \
    | tee docs/results/coconut_arith_lr_pilot.md
fi

# Step 8, arith Coconut at the official shape (`... coconut`): GSM8K's c=2 and 3 latent stages, each 3 epochs of
# the 20,000 training problems (1,875 steps of 32), constant lr (chosen in step 7), the optimizer reset at each
# stage, then a final stage with every language step gone and the 6 thoughts kept (the official
# max_latent_stage; 3,000 steps, 4.8 epochs against GSM8K's 13). Every stage is decoded on 200 validation
# problems as it is saved (benchmarks/stage_curve.sh). Resumable: rerun to continue.
LR_COCONUT=${LR_COCONUT:-1e-3}  # step 7: lowest validation loss at every step from 100 on
if [ "$step" = all ] || [ "$step" = coconut ]; then
  brevity train coconut --base $A/compact --task arith --stages 3 --per-step 2 --stage0-steps 0 --steps 1875 \
    --final-steps 3000 --n-train 20000 --lr $LR_COCONUT --lr-schedule constant --warmup 0 --eval-every 250 \
    --val 256 --checkpoint-every 250 --save-stages --out $A/coconut $([ -d $A/coconut/checkpoints ] && echo --resume) &
  bash benchmarks/stage_curve.sh $A/coconut arith 1 docs/results/coconut_arith_stages.txt
  wait
  python benchmarks/checkpoint_history.py $A/coconut > docs/results/coconut_arith_history.md
fi

# Step 9, arith CODI from the converged chain (`... codi`): 6 projected thoughts (the official num_latent), the
# distillation at the answer's own position with smooth-L1 divided by the teacher's std (the official default),
# one stage of 3,000 steps (4.8 epochs of the 20,000 problems; the official run has 40 epochs of GSM8K-Aug)
# at lr 1e-3 with a cosine decay (CODI's own schedule is cosine). Resumable: rerun to continue.
if [ "$step" = all ] || [ "$step" = codi ]; then
  brevity train codi --base $A/compact --task arith --stages 6 --per-step 1 --steps 500 \
    --n-train 20000 --lr 1e-3 --eval-every 250 --val 256 --checkpoint-every 250 --out $A/codi \
    $([ -d $A/codi/checkpoints ] && echo --resume)
  python benchmarks/checkpoint_history.py $A/codi > docs/results/codi_arith_history.md
  [ -f $A/val-codi/summary.json ] || brevity bench $VA --model $A/codi --methods coconut@$A/codi --out $A/val-codi >/dev/null
  python -c "import json; s=json.load(open('$A/val-codi/summary.json'))[0]; print('codi', s['accuracy'], s['mean_generated_positions'])"
fi

# Step 10, arith's test rows (`... arith-test`): the converged chain, Coconut's stage 1 and final models and CODI
# installed as zoo members (their manifests keep the command as run), each run once on the 2,000 test problems,
# and the Coconut and CODI thoughts read back with `brevity explain` on 500 of them.
if [ "$step" = all ] || [ "$step" = arith-test ]; then
  python benchmarks/install_zoo_member.py $A/compact tiny-arith-compact-5k
  python benchmarks/install_zoo_member.py $A/coconut tiny-arith-coconut-e3
  python benchmarks/install_zoo_member.py $A/codi tiny-arith-codi-e5
  [ -f $A/test/summary.json ] || brevity bench --task arith --model tiny-arith-compact-5k --n 2000 --latency-n 20 \
    --batch-size 64 --out $A/test --methods "coconut@tiny-arith-compact-5k,coconut@$A/coconut/stage-1,\
coconut@tiny-arith-coconut-e3,coconut@tiny-arith-codi-e5"
  python benchmarks/latent_table.py $A/test zoo-data $A/coconut > docs/results/latent_arith_official.md
  for m in coconut-e3 codi-e5; do
    brevity explain --model tiny-arith-$m --task arith --n 500 --out $A/explain-$m.json \
      2>/dev/null > docs/results/explain_arith_$m.txt
  done
fi

# Step 11, graph's chain at convergence (`... graph-compact`): as on arith, Coconut starts from a chain trained
# until its validation loss stops falling. tiny-graph-compact (1,000 + 4,000 steps, graph's collapsed embedding
# rows redrawn first) writes the whole path right in 16.5% of test problems; it continues on the same 100,000
# problems at lr 1e-3 (cosine), patience 2 x 500 steps.
G=brevity-runs/i23/graph
VG="--task graph --split validation --n 500 --batch-size 64 --latency-n 0"
if [ "$step" = all ] || [ "$step" = graph-compact ]; then
  [ -f $G/compact/manifest.json ] || brevity train compact --base tiny-graph-compact --task graph \
    --stage0-steps 6000 --n-train 100000 --lr 1e-3 --eval-every 500 --val 256 --patience 2 --checkpoint-every 500 \
    --out $G/compact $([ -d $G/compact/checkpoints ] && echo --resume)
  for m in tiny-graph-compact $G/compact; do
    out=$G/val-$(basename $m)
    [ -f $out/summary.json ] || brevity bench $VG --model $m --methods coconut@$m --out $out >/dev/null
    python -c "import json; s=json.load(open('$out/summary.json'))[0]; print('$m', s['accuracy'], s['mean_generated_positions'])"
    python benchmarks/graph_errors.py $out/records.jsonl | tail -1
  done
fi

# Step 12, Coconut's learning rate on graph (`... graph-coconut-lr`): c=1 (ProsQA's), stage 1 only, 400 steps at
# a constant lr with no warm-up, compared by the validation loss at equal steps.
if [ "$step" = all ] || [ "$step" = graph-coconut-lr ]; then
  for lr in 1e-4 1e-3; do
    [ -f $G/coconut-lr$lr/manifest.json ] || brevity train coconut --base $G/compact --task graph --stages 1 \
      --per-step 1 --stage0-steps 0 --steps 400 --n-train 100000 --lr $lr --lr-schedule constant --warmup 0 \
      --eval-every 100 --val 256 --out $G/coconut-lr$lr
  done
  python benchmarks/checkpoint_history.py $G/coconut-lr1e-4 $G/coconut-lr1e-3 | tee docs/results/coconut_graph_lr_pilot.md
fi

# Step 13, graph Coconut at ProsQA's shape (`... graph-coconut`): c=1, one stage per path step (5: paths have 3
# to 5 edges), a constant lr (step 12), the optimizer reset at each stage; 1,875 steps of 32 per stage, 60,000
# examples (ProsQA's 5 epochs of 17,886 are 89,430). Every stage is decoded on 200 validation problems as it is
# saved. Resumable: rerun to continue.
LR_GRAPH=${LR_GRAPH:-1e-3}
if [ "$step" = all ] || [ "$step" = graph-coconut ]; then
  brevity train coconut --base $G/compact --task graph --stages 5 --per-step 1 --stage0-steps 0 --steps 1875 \
    --n-train 100000 --lr $LR_GRAPH --lr-schedule constant --warmup 0 --eval-every 250 --val 256 \
    --checkpoint-every 250 --save-stages --out $G/coconut $([ -d $G/coconut/checkpoints ] && echo --resume) &
  bash benchmarks/stage_curve.sh $G/coconut graph 1 docs/results/coconut_graph_stages.txt
  wait
  python benchmarks/checkpoint_history.py $G/coconut > docs/results/coconut_graph_history.md
fi

# Step 14, graph's test rows (`... graph-test`): the chain at convergence and Coconut at ProsQA's shape installed
# as zoo members, run once on the 2,000 test problems beside tiny-graph-compact (the earlier rows' chain) and
# Coconut's best stage on validation, the chains classified by graph_errors.py, and the thoughts read back.
GC=tiny-graph-compact-conv GCOC=tiny-graph-coconut-prosqa GBEST=${GBEST:-3}  # 3: step 13's best stage on validation
if [ "$step" = all ] || [ "$step" = graph-test ]; then
  python benchmarks/install_zoo_member.py $G/compact $GC
  python benchmarks/install_zoo_member.py $G/coconut $GCOC
  [ -f $G/test/summary.json ] || brevity bench --task graph --model $GC --n 2000 --latency-n 20 --batch-size 64 \
    --out $G/test --methods "coconut@tiny-graph-compact,coconut@$GC,coconut@$G/coconut/stage-$GBEST,coconut@$GCOC"
  python benchmarks/latent_table.py $G/test zoo-data $G/coconut > docs/results/latent_graph_official.md
  python benchmarks/graph_errors.py $G/test/records.jsonl > docs/results/graph_errors_official.md
  brevity explain --model $GCOC --task graph --n 500 --out $G/explain-coconut.json 2>/dev/null \
    > docs/results/explain_graph_coconut-prosqa.txt
fi

# Step 15, mult's test rows (`... mult-test`): the iCoT run of step 3 was stopped after stage 15 (the answer right
# in 3 of 200 validation problems; docs/findings/latent.md says why). Its stage-15 model is rebuilt from the committed
# stage-13 boundary checkpoint (3,200 steps; a resumed run ends with the same weights as one that never stopped),
# the newest boundary checkpoint replaces the committed one, and the chain and stage 15 run once on the 2,000
# test problems.
if [ "$step" = all ] || [ "$step" = mult-test ]; then
  if [ ! -f $R/icot/stage-15/manifest.json ]; then
    mkdir -p $R/icot/checkpoints
    ls $R/icot/checkpoints/step-*.pt >/dev/null 2>&1 || cp resume/icot-mult/*.pt $R/icot/checkpoints/
    brevity train icot --base tiny-mult-terse --task mult:order=lsd --chain terse --n-train 400000 --stage0-steps 0 \
      --remove-per-stage 1 --steps 1600 --final-steps 8000 --lr 3e-4 --lr-schedule constant --warmup 0 \
      --eval-every 400 --val 256 --checkpoint-every 200 --save-stages --out $R/icot --resume &
    pid=$!
    while [ ! -f $R/icot/stage-15/manifest.json ] || [ ! -f $R/icot/checkpoints/step-00024000.pt ]; do sleep 10; done
    kill $pid; wait $pid || true
    rm -f resume/icot-mult/*.pt && cp $R/icot/checkpoints/{step,optimizer}-00024000.pt resume/icot-mult/
  fi
  [ -f $R/test/summary.json ] || brevity bench --task mult:order=lsd --model tiny-mult-terse --n 2000 --latency-n 20 \
    --batch-size 64 --out $R/test --methods "coconut@tiny-mult-terse,coconut@$R/icot/stage-15"
  python benchmarks/latent_table.py $R/test zoo-data $R/icot > docs/results/latent_mult_official.md
fi

# Step 16, Coconut's stage 1 on graph at the official lr (`... graph-stage1-lr`): step 12 chose 1e-3 on 400 steps,
# where step 13's stage-1 loss had not yet stopped falling; the same stage 1 over its whole length (1,875
# steps) at 1e-4, decoded on the same 200 validation problems as step 13's stage 1.
if [ "$step" = all ] || [ "$step" = graph-stage1-lr ]; then
  [ -f $G/coconut-s1-lr1e-4/manifest.json ] || brevity train coconut --base $G/compact --task graph --stages 1 \
    --per-step 1 --stage0-steps 0 --steps 1875 --n-train 100000 --lr 1e-4 --lr-schedule constant --warmup 0 \
    --eval-every 250 --val 256 --checkpoint-every 250 --out $G/coconut-s1-lr1e-4 \
    $([ -d $G/coconut-s1-lr1e-4/checkpoints ] && echo --resume)
  out=$G/val-coconut-s1-lr1e-4
  [ -f $out/summary.json ] || brevity bench --task graph --split validation --n 200 --batch-size 64 --latency-n 0 \
    --model $G/coconut-s1-lr1e-4 --methods coconut@$G/coconut-s1-lr1e-4 --out $out >/dev/null
  python benchmarks/checkpoint_history.py $G/coconut-s1-lr1e-4 > docs/results/coconut_graph_stage1_lr1e-4.md
  for r in $out $G/coconut/val-stage-1; do python benchmarks/graph_errors.py $r/records.jsonl | tail -1; done
fi
