#!/usr/bin/env bash
# Issue 24: tiny-qwen3-lrm, a zoo member in Qwen3's own format (docs/findings/real-families.md, "`tiny-qwen3-lrm`, a
# zoo member in Qwen3's format"). Each step can be run alone: `bash benchmarks/results_family.sh bench`; the build and the
# benches resume where they stopped. One heavy step at a time (two cores).
set -euo pipefail
M=tiny-qwen3-lrm
R=brevity-runs/family
step=${1:-all}
run() { [ "$step" = all ] || [ "$step" = "$1" ]; }
mkdir -p docs/results $R

# 1. Train (10,000 steps, about 50 min here), store compactly in zoo-data/, validate on 500 problems; the curve
#    is the validation loss every 500 steps on 256 held-out training examples.
if run build; then
  brevity zoo build $M --resume
  python benchmarks/checkpoint_history.py zoo-data/$M | tee docs/results/family_curve.md
  du -sh --apparent-size zoo-data/$M --exclude checkpoints | tee docs/results/family_size.txt
fi

# 2. The rows of tiny-lrm's core benchmark, on the same 2,000 test problems (hf engine; method settings as
#    chosen on tiny-lrm's validation problems). The full 151,936-row head makes each decode step about 4 times
#    tiny-lrm's (cot: 231 s for 500 problems), so budget:128, 144 and 256 are left out.
METHODS="cot,nothink,budget:64,budget:96,budget,budget:176,deer,dynasor"
if run bench; then
  brevity bench --model $M --n 2000 --latency-n 0 --batch-size 64 --out $R/test-2000 --resume --methods "$METHODS"
  cp $R/test-2000/report.md docs/results/family_report.md
  cp $R/test-2000/summary.json docs/results/family_summary.json
  cp $R/test-2000/pareto.png docs/results/family_pareto.png
  for pair in "budget:136 cot" "deer:0.95 cot" "dynasor:32 cot" "nothink cot"; do
    python benchmarks/paired_diff.py --model $M $R/test-2000/records.jsonl $pair
  done | tee docs/results/family_paired_diffs.txt
fi

# 3. Only corpus ids come out: greedy and at temperature 0.6, on transformers and on vLLM's CPU build.
if run vocab; then
  for engine in hf vllm; do
    python benchmarks/family_vocab_check.py --model $M --engine $engine --n 2000
  done | tee docs/results/family_vocab_check.txt
fi

# 4. The bench on vLLM's CPU build against transformers, same problems; the hf side is step 2's folder (its
#    records and batched timings are reused, not rerun).
if run engines; then
  mkdir -p $R/engines && ln -sfn ../test-2000 $R/engines/hf
  python benchmarks/engine_compare.py --model $M --n 2000 --methods cot,budget:136,deer --batch-size 64 \
    --out $R/engines | tee docs/results/family_engine_compare.md
fi

# 5. Served through the gateway in front of vLLM: the gateway's own thinking budget against vLLM's native
#    thinking_token_budget (qwen3 reasoning parser), each against the bench's budget:B on the same problems.
if run serve; then
  python benchmarks/serve_accuracy.py --model $M --backend vllm --modes gateway,native --n 500 --budgets 96,136 \
    --out docs/results/family_serve_accuracy.json
fi

# 6. GGUF on llama.cpp's server (builds llama-cpp-python[server] once, about 8 minutes; cached).
if run gguf; then
  bash scripts/setup_llama_cpp_server.sh
  brevity zoo gguf $M
  python benchmarks/engine_compare.py --against llama-cpp --model $M --n 200 --methods cot,budget:136 \
    --concurrency 4 --out $R/llama-cpp | tee docs/results/family_llama_cpp.md
fi
