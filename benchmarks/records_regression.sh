#!/usr/bin/env bash
# The zoo regression: the same benches on two source trees, then their records compared (records_diff.py).
# One row set of the core methods on arith, and rows of the latent mult and graph members and the Qwen3-format
# member. Usage: bash benchmarks/records_regression.sh OLD_SRC NEW_SRC OUT   (e.g. a worktree's src and ./src)
set -euo pipefail
old=$1 new=$2 out=$3
here="$(cd "$(dirname "$0")" && pwd)"
for side in old new; do
  export PYTHONPATH; PYTHONPATH="$(cd "${!side}" && pwd)"
  o=$out/$side
  python -m brevity.cli bench --n 100 --latency-n 0 --no-progress --out $o/arith --methods \
    "cot,nothink,budget:96,budget,budget-wait,nowait,deer,dynasor,tale-ep@tiny-lrm-instruct,sot@tiny-lrm-instruct,coconut@tiny-arith-coconut"
  python -m brevity.cli bench --task mult:order=lsd --n 50 --latency-n 0 --no-progress --model tiny-mult-terse \
    --methods "coconut@tiny-mult-terse,coconut@tiny-mult-coconut" --out $o/mult
  python -m brevity.cli bench --task graph --n 50 --latency-n 0 --no-progress --model tiny-graph-coconut \
    --methods "coconut@tiny-graph-compact,coconut@tiny-graph-coconut" --out $o/graph
  python -m brevity.cli bench --model tiny-qwen3-lrm --n 20 --latency-n 0 --no-progress \
    --methods "cot,budget:64,deer" --out $o/family
done
for t in arith mult graph family; do
  python "$here/records_diff.py" $out/old/$t $out/new/$t
done
