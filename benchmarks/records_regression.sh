#!/usr/bin/env bash
# The zoo regression: the same benches on two source trees, then their records compared (records_diff.py).
# One row set of the core methods on arith, and a row for each results section (docs/findings/) with answers of its own: the
# explicit family's trained members and prompt-level methods, the length-RL member, a route, the latent arith, mult
# and graph members (their official-shape ones too), GSM8K and MATH-500 from the shared data, a stand-in of a real
# family, and the Qwen3-format member. Usage: bash benchmarks/records_regression.sh OLD_SRC NEW_SRC OUT
# (e.g. a worktree's src and ./src). BREVITY_SHARED must name the shared data folder.
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
  python -m brevity.cli bench --n 50 --latency-n 0 --no-progress --out $o/sections --methods \
    "l1:200@tiny-lrm-l1,tokenskip:0.7@tiny-lrm-tokenskip,cot@tiny-lrm-shortest-prompted,cod@tiny-lrm-instruct,cot@tiny-lrm-sampled-rl-length,route:cascade,coconut@tiny-arith-coconut-e3"
  python -m brevity.cli bench --task graph --n 50 --latency-n 0 --no-progress --model tiny-graph-coconut-prosqa \
    --methods "coconut@tiny-graph-coconut-prosqa" --out $o/graph-official
  python -m brevity.cli bench --task "gsm8k:path=$BREVITY_SHARED/data/gsm8k" --n 20 --latency-n 0 --no-progress \
    --methods "cot,budget:136" --out $o/gsm8k
  python -m brevity.cli bench --task math500 --n 20 --latency-n 0 --no-progress --methods cot --out $o/math500
  standin=$(python -c "from brevity.conformance.standins import standin_path; print(standin_path('r1-distill-qwen'))")
  python -m brevity.cli bench --model "$standin" --n 2 --latency-n 0 --no-progress --max-tokens 48 \
    --answer-tokens 16 --methods "cot,budget:24,deer,dynasor:8" --out $o/standin
done
for t in arith mult graph family sections graph-official gsm8k math500 standin; do
  python "$here/records_diff.py" $out/old/$t $out/new/$t
done
