#!/usr/bin/env bash
# Issue 22: the length-RL, `shortest` and TokenSkip rows after the recipes were fixed, in the order they were
# run. Settings are chosen on validation (benchmarks/rl_length_sweep.sh, benchmarks/tokenskip_sweep.sh); each
# final setting runs once on the 2,000 test problems. One job at a time on the two cores.
set -euo pipefail
cd "$(dirname "$0")/.."
# 1. The members on tiny-lrm-sampled (160 GRPO steps at lr 1e-4, chosen on validation; `shortest` with
#    tiny-lrm-shortest's settings), each validated on 500 validation problems into its manifest.
brevity zoo build tiny-lrm-sampled-rl-length tiny-lrm-sampled-shortest
# 2. Their rows next to their base's `cot`, on test, with paired intervals against it.
brevity bench --n 2000 --latency-n 0 --batch-size 64 --out brevity-runs/test-sampled --methods \
  "cot@tiny-lrm-sampled,cot@tiny-lrm-sampled-rl-length,cot@tiny-lrm-sampled-shortest"
for a in cot@tiny-lrm-sampled-rl-length cot@tiny-lrm-sampled-shortest; do
  python benchmarks/paired_diff.py brevity-runs/test-sampled/records.jsonl "$a" cot@tiny-lrm-sampled
done
cp brevity-runs/test-sampled/report.md docs/results/test_sampled.md
# 3. TokenSkip with the setting chosen on validation (benchmarks/tokenskip_sweep.sh: LoRA rank 8, lr 5e-5, 280
#    steps, the only one that keeps the plain prompt's accuracy): gamma 1.0 (the plain prompt) and the two
#    gammas the sweep ran, 0.8 and 0.6 (the one that asks for 40% fewer tokens), against tiny-lrm's cot.
brevity zoo build tiny-lrm-tokenskip
TS=tiny-lrm-tokenskip
brevity bench --n 2000 --latency-n 0 --batch-size 64 --out brevity-runs/test-tokenskip --methods \
  "cot@tiny-lrm,tokenskip:1.0@$TS,tokenskip:0.8@$TS,tokenskip:0.6@$TS"
for g in 1.0 0.8 0.6; do
  python benchmarks/paired_diff.py brevity-runs/test-tokenskip/records.jsonl "tokenskip:$g@$TS" cot@tiny-lrm
done | tee docs/results/paired_diffs_tokenskip_lora.txt
cp brevity-runs/test-tokenskip/report.md docs/results/test_tokenskip.md
