#!/usr/bin/env bash
# The latent family's first numbers in docs/findings/latent.md and history.md (issue 4, in progress), in the order they were run.
set -euo pipefail
brevity train coconut --base tiny-base --task arith --out brevity-runs/tiny-coconut-arith --stages 5 --per-step 1 \
  --stage0-steps 300 --steps 300 --n-train 20000
python benchmarks/coconut_kv.py --model brevity-runs/tiny-coconut-arith --task arith --n 100 --thoughts 5 --max-new 48 \
  --repeats 1 > /tmp/kv1.txt
python benchmarks/coconut_kv.py --model tiny-lrm --task mult --n 20 --thoughts 7 --max-new 16,64,160,320 --repeats 3 > /tmp/kv2.txt
python benchmarks/coconut_kv.py --model tiny-lrm --task mult --n 20 --thoughts 7 --max-new 16,64,160,320 --repeats 3 \
  --batched > /tmp/kv3.txt
cat /tmp/kv2.txt /tmp/kv3.txt /tmp/kv1.txt > docs/results/coconut_kv.txt
brevity train coconut --base tiny-base --task arith --out brevity-runs/tiny-compact-arith --stages 0 --stage0-steps 1000 \
  --n-train 20000
brevity train coconut --base brevity-runs/tiny-compact-arith --task arith --out brevity-runs/tiny-coconut-arith-2 \
  --stages 5 --per-step 1 --stage0-steps 0 --steps 600 --n-train 20000
brevity train coconut --base brevity-runs/tiny-compact-arith --task arith --out brevity-runs/tiny-coconut-arith-c2 \
  --stages 5 --per-step 2 --stage0-steps 0 --steps 600 --n-train 20000
brevity bench --task arith --model brevity-runs/tiny-coconut-arith-2 --split validation --n 300 --latency-n 0 \
  --batch-size 64 --out brevity-runs/latent-val --methods \
  "coconut,coconut@brevity-runs/tiny-compact-arith,coconut@brevity-runs/tiny-coconut-arith,cot@tiny-llm,\
coconut@brevity-runs/tiny-coconut-arith-c2"
