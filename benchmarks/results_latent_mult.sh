#!/usr/bin/env bash
# The latent family on 4-by-4 `mult` in iCoT's digit order (mult:order=lsd; docs/findings/history.md, the latent family's first round),
# as run on 2026-11-28, one training at a time. Every method starts from the same compact-chain model, 100% on
# 100 validation problems (brevity-runs/latent-mult-lsd/compact-5k = zoo tiny-mult-compact: tiny-base plus
# 5,000 steps, the end of benchmarks/results_latent_graph_mult.sh), and trains on 100,000 problems: 300 steps
# per stage where it has a curriculum (7 stages, one per chain step; icot: 16 of the 140 chain tokens per
# stage, 9 stages), 7 x 300 steps where it has none: the arith table's schedule, one stage per chain step.
set -euo pipefail
R=brevity-runs/latent-mult-lsd
C=$R/compact-5k
T="--task mult:order=lsd --n-train 100000"
brevity train icot --base $C $T --stage0-steps 0 --out $R/icot --remove-per-stage 16 --steps 300
brevity train nochain --base $C $T --out $R/nochain --stages 7 --steps 300
brevity train coconut --base $C $T --stage0-steps 0 --out $R/coconut --stages 7 --per-step 1 --steps 300 --save-stages
brevity train pause-curriculum --base $C $T --stage0-steps 0 --out $R/pause-curriculum --stages 7 --per-step 1 --steps 300 --save-stages
brevity train pause --base $C $T --out $R/pause --stages 7 --per-step 1 --steps 300
brevity train codi --base $C $T --out $R/codi --stages 7 --per-step 1 --steps 300
# one thought per step cannot hold a partial product: the same stage 1 with 5 thoughts (c=5)
brevity train coconut --base $C $T --stage0-steps 0 --out $R/coconut-c5-s1 --stages 1 --per-step 5 --steps 300

# validation, 200 problems: every final model, and every curriculum stage with the steps right by position
val() { brevity bench --task mult:order=lsd --model "$1" --split validation --n 200 --latency-n 0 --batch-size 64 \
  --out "$2" --methods coconut; }
for m in icot nochain pause codi coconut-c5-s1; do val $R/$m $R/val-$m; done
for k in 1 2 3 4 5 6 7; do
  for m in coconut pause-curriculum; do
    d=$R/$m/stage-$k; [ $k = 7 ] && d=$R/$m
    val $d $R/val-$m-s$k
    python benchmarks/chain_steps.py $R/val-$m-s$k/records.jsonl mult:order=lsd $k
  done
done
python benchmarks/chain_steps.py $R/val-coconut-c5-s1/records.jsonl mult:order=lsd 1
python benchmarks/first_digit_accuracy.py mult:order=lsd $R/val-coconut-s1/records.jsonl \
  $R/val-pause-curriculum-s1/records.jsonl $R/val-coconut-c5-s1/records.jsonl

# the zoo members (validated on 500 problems), then the test table; the stage-1 models under distinct names
python benchmarks/install_zoo_member.py $R/compact tiny-mult-compact-1k
python benchmarks/install_zoo_member.py $R/compact-5k tiny-mult-compact
for m in nochain pause pause-curriculum icot coconut codi; do python benchmarks/install_zoo_member.py $R/$m tiny-mult-$m; done
cp -r $R/coconut/stage-1 $R/coconut-stage-1
cp -r $R/pause-curriculum/stage-1 $R/pause-curriculum-stage-1
M=coconut@tiny-mult-compact,coconut@tiny-mult-nochain,coconut@tiny-mult-pause,coconut@tiny-mult-pause-curriculum
M=$M,coconut@tiny-mult-icot,coconut@tiny-mult-coconut,coconut@tiny-mult-codi,coconut@$R/coconut-stage-1
M=$M,coconut@$R/pause-curriculum-stage-1
brevity bench --task mult:order=lsd --model tiny-mult-compact --n 2000 --latency-n 20 --batch-size 64 --out $R/bench \
  --methods "$M"
python benchmarks/latent_table.py $R/bench $R brevity-runs > docs/results/latent_mult.md
brevity explain --model tiny-mult-coconut --task mult:order=lsd --n 500 --out $R/explain-coconut.json \
  > docs/results/explain_coconut_mult.txt 2>&1
brevity explain --model tiny-mult-codi --task mult:order=lsd --n 500 --out $R/explain-codi.json \
  > docs/results/explain_codi_mult.txt 2>&1
brevity explain --model $R/coconut-stage-1 --task mult:order=lsd --n 500 --out $R/explain-coconut-stage-1.json \
  > docs/results/explain_coconut_stage1_mult.txt 2>&1
# KV-cached against re-forward decoding at batch 1, on one and two threads
python benchmarks/coconut_kv.py --model tiny-lrm --task mult --n 10 --thoughts 7 --max-new 160,320 --repeats 3 --threads 1,2
python benchmarks/coconut_kv.py --model $R/coconut/stage-1 --task mult:order=lsd --n 20 --thoughts 1 --max-new 160 \
  --repeats 3 --threads 1,2
# stage 1 alone with four times the steps (the thought then holds the product), on validation and test
brevity train coconut --base $C $T --stage0-steps 0 --out $R/coconut-s1-1200 --stages 1 --per-step 1 --steps 1200
val $R/coconut-s1-1200 $R/val-coconut-s1-1200
python benchmarks/chain_steps.py $R/val-coconut-s1-1200/records.jsonl mult:order=lsd 1
python benchmarks/first_digit_accuracy.py mult:order=lsd $R/val-coconut-s1-1200/records.jsonl
brevity bench --task mult:order=lsd --model tiny-mult-compact --n 2000 --latency-n 20 --batch-size 64 --out $R/bench \
  --resume --methods "$M,coconut@$R/coconut-s1-1200"
python benchmarks/latent_table.py $R/bench $R brevity-runs > docs/results/latent_mult.md

# 2026-11-28, second session: the whole Coconut curriculum at 1,200 steps per stage (stage 1's length that
# worked above), every stage saved; decoded with inference_mode (the cached path's batch-1 speed-up)
brevity train coconut --base tiny-mult-compact --task mult:order=lsd --n-train 100000 --stage0-steps 0 \
  --out $R/coconut-1200 --stages 7 --per-step 1 --steps 1200 --save-stages
for k in 1 2 3 4 5 6 7; do
  d=$R/coconut-1200/stage-$k; [ $k = 7 ] && d=$R/coconut-1200
  val $d $R/val-c1200-s$k
  python benchmarks/chain_steps.py $R/val-c1200-s$k/records.jsonl mult:order=lsd $k
done
python benchmarks/first_digit_accuracy.py mult:order=lsd $R/val-c1200-s1/records.jsonl
# KV-cached against re-forward decoding at batch 1 after the inference_mode change, run while the training
# above was paused (kill -STOP) after its stage 2; then both autograd modes in one run
python benchmarks/coconut_kv.py --model tiny-lrm --task mult --n 10 --thoughts 7 --max-new 160,320 --repeats 3 --threads 1,2
python benchmarks/coconut_kv.py --model $R/coconut-1200/stage-1 --task mult:order=lsd --n 20 --thoughts 1 --max-new 160 \
  --repeats 3 --threads 1,2
python benchmarks/coconut_kv.py --model $R/coconut-1200/stage-1 --task mult:order=lsd --n 20 --thoughts 1 --max-new 160 \
  --repeats 3 --threads 1 --grad-modes inference,no_grad
# the curriculum was stopped after stage 4 (validation: 57.5, 19.0, 2.0, 0.5%); instead the control at the
# same length: pause-curriculum stages 1 and 2 at 1,200 steps
brevity train pause-curriculum --base tiny-mult-compact --task mult:order=lsd --n-train 100000 --stage0-steps 0 \
  --out $R/pause-curriculum-1200 --stages 2 --per-step 1 --steps 1200 --save-stages
val $R/pause-curriculum-1200/stage-1 $R/val-pc1200-s1
val $R/pause-curriculum-1200 $R/val-pc1200-s2
for k in 1 2; do python benchmarks/chain_steps.py $R/val-pc1200-s$k/records.jsonl mult:order=lsd $k; done
python benchmarks/first_digit_accuracy.py mult:order=lsd $R/val-pc1200-s1/records.jsonl
# test, 2,000 problems: the 1,200-step stages under distinct names, beside the baselines and the 300-step finals
for k in 1 2 3 4; do cp -r $R/coconut-1200/stage-$k $R/coconut-1200-s$k; done
cp -r $R/pause-curriculum-1200/stage-1 $R/pause-curriculum-1200-s1
mkdir -p $R/pause-curriculum-1200-s2 && cp $R/pause-curriculum-1200/*.* $R/pause-curriculum-1200-s2/
M=coconut@tiny-mult-compact,coconut@tiny-mult-nochain,coconut@tiny-mult-coconut,coconut@tiny-mult-pause-curriculum
for k in 1 2 3 4; do M=$M,coconut@$R/coconut-1200-s$k; done
M=$M,coconut@$R/pause-curriculum-1200-s1,coconut@$R/pause-curriculum-1200-s2
brevity bench --task mult:order=lsd --model tiny-mult-compact --n 2000 --latency-n 20 --batch-size 64 \
  --out $R/bench-1200 --methods "$M"
python benchmarks/latent_table.py $R/bench-1200 $R brevity-runs --plot docs/results/latent_mult_1200.png \
  > docs/results/latent_mult_1200.md
brevity explain --model $R/coconut-1200-s1 --task mult:order=lsd --n 500 --out $R/explain-coconut-1200-s1.json \
  > docs/results/explain_coconut_1200_s1_mult.txt 2>&1
# does the first session's stage-1-alone model (99.8%) reproduce? the same command, then compare weights
brevity train coconut --base tiny-mult-compact --task mult:order=lsd --n-train 100000 --stage0-steps 0 \
  --out $R/coconut-s1-1200-rerun --stages 1 --per-step 1 --steps 1200
sha256sum $R/coconut-s1-1200-rerun/model.safetensors $R/coconut-1200/stage-1/model.safetensors
# the two partly latent Coconut models that beat nochain, into the zoo (validated on 500 problems)
python benchmarks/install_zoo_member.py $R/coconut-1200/stage-1 tiny-mult-coconut-s1
python benchmarks/install_zoo_member.py $R/coconut-1200/stage-2 tiny-mult-coconut-s2
