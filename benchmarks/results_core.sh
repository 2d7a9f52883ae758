#!/usr/bin/env bash
# The numbers of docs/RESULTS.md (core issue), in the order they were run. Outputs go to
# brevity-runs/ (not committed); summary.json, report.md and pareto.png are copied to docs/results/.
set -euo pipefail
mkdir -p docs/results
brevity tasks stats arith --n 2000 --split validation | tee docs/results/gold_traces.txt
# Budget points are chosen on validation ...
brevity bench --split validation --n 500 --latency-n 0 --out brevity-runs/validation-sweep \
  --methods cot,nothink,budget:64,budget:96,budget:128,budget:160,budget:192,budget:256,cot@tiny-llm,cot@tiny-base
# ... and reported on the same 2,000 test problems of the default mix.
brevity bench --n 2000 --latency-n 50 --out brevity-runs/test-2000 --methods "$1"
cp brevity-runs/test-2000/{summary.json,report.md,pareto.png} docs/results/
python benchmarks/engine_throughput.py --n 64 --batch 32 --repeats 3 | tee docs/results/engine_throughput.txt
