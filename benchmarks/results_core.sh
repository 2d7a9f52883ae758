#!/usr/bin/env bash
# The numbers of docs/findings/core-benchmark.md, in the order they were run. Outputs go to brevity-runs/ (not
# committed); reports, summaries and plots are copied to docs/results/.
set -euo pipefail
mkdir -p docs/results
brevity tasks stats arith --n 2000 --split validation | tee docs/results/gold_traces.txt
# Defaults of every decode-time method are chosen on validation problems (rules in docs/findings/core-benchmark.md) ...
brevity bench --split validation --n 300 --latency-n 0 --out brevity-runs/validation-sweep \
  --methods "cot,nothink,budget:112,budget:128,budget:136,budget:144,budget:160,budget:192,budget:256,\
budget-wait:max=256;min=128,budget-wait:max=256;min=192,nowait,deer:0.8,deer:0.9,deer:0.95,deer:0.99,\
dynasor:every=16;agree=2,dynasor:every=16;agree=3,dynasor:every=32;agree=2,dynasor:every=32;agree=3,cot@tiny-llm"
cp brevity-runs/validation-sweep/report.md docs/results/validation_report.md
cp brevity-runs/validation-sweep/summary.json docs/results/validation_summary.json
# ... and reported on the same 2,000 test problems of the default mix.
METHODS="cot,nothink,budget:64,budget:96,budget:128,budget,budget:144,budget:176,budget:192,budget:256,budget-wait,deer,dynasor,cot@tiny-llm"
brevity bench --n 2000 --latency-n 20 --out brevity-runs/test-2000 --methods "$METHODS"
# nowait was added afterwards to the same folder (its degenerate traces make it the slowest row).
brevity bench --n 2000 --latency-n 20 --out brevity-runs/test-2000 --resume --methods "$METHODS,nowait"
cp brevity-runs/test-2000/{summary.json,report.md,pareto.png} docs/results/
python benchmarks/budget_ceiling.py brevity-runs/test-2000/records.jsonl | tee docs/results/budget_ceiling.txt
for pair in "cot cot@tiny-llm" "budget:136 cot" "budget:144 cot" "deer:0.95 budget:96" "deer:0.95 cot" \
    "dynasor:32 budget:176" "dynasor:32 cot" "nowait cot"; do
  python benchmarks/paired_diff.py brevity-runs/test-2000/records.jsonl $pair
done | tee docs/results/paired_diffs.txt
python benchmarks/engine_throughput.py --n 32 --batch 32 --repeats 3 | tee docs/results/engine_throughput.txt
