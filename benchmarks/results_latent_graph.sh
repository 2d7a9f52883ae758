#!/usr/bin/env bash
# The latent family on `graph` (ProsQA-style reachability, depth 3-5 over 12 concepts; docs/findings/history.md, the latent
# family's first round), as run on 2026-11-28, one training at a time.
set -euo pipefail
R=brevity-runs/latent-graph
val() { brevity bench --task graph --model "$1" --split validation --n 200 --latency-n 0 --batch-size 64 \
  --out "$2" --methods coconut; }
# 1. The compact chain from tiny-base as it is: 5,000 steps on 100,000 problems stay at 5% (loss 0.98)
brevity train compact --base tiny-base --task graph --n-train 100000 --out $R/compact-5k --stage0-steps 5000
val $R/compact-5k $R/val-compact
python benchmarks/chain_steps.py $R/val-compact/records.jsonl graph
# 2. tiny-base never saw graph's words: their tied embedding rows are one vector. Redrawn (--reinit-untrained),
#    1,000 steps, then 4,000 more (mult's schedule)
brevity train compact --base tiny-base --task graph --n-train 100000 --out $R/compact-reinit-1k \
  --stage0-steps 1000 --reinit-untrained
val $R/compact-reinit-1k $R/val-compact-reinit-1k
brevity train compact --base $R/compact-reinit-1k --task graph --n-train 100000 --out $R/compact-reinit-5k \
  --stage0-steps 4000
val $R/compact-reinit-5k $R/val-compact-reinit-5k
for v in val-compact-reinit-1k val-compact-reinit-5k; do python benchmarks/chain_steps.py $R/$v/records.jsonl graph; done
# 3. The family from the compact model, one stage per chain step (at most 5): 5 stages of 300 steps where a method
#    has a curriculum (icot: 5 of the at most 25 chain tokens per stage), 5 x 300 steps where it has none
C=$R/compact-reinit-5k
T="--task graph --n-train 100000"
brevity train coconut --base $C $T --stage0-steps 0 --out $R/coconut --stages 5 --per-step 1 --steps 300 --save-stages
brevity train nochain --base $C $T --out $R/nochain --stages 5 --steps 300
brevity train codi --base $C $T --out $R/codi --stages 5 --per-step 1 --steps 300
brevity train pause --base $C $T --out $R/pause --stages 5 --per-step 1 --steps 300
brevity train pause-curriculum --base $C $T --stage0-steps 0 --out $R/pause-curriculum --stages 5 --per-step 1 --steps 300 --save-stages
brevity train icot --base $C $T --stage0-steps 0 --out $R/icot --remove-per-stage 5 --steps 300
for m in coconut nochain codi pause pause-curriculum icot; do val $R/$m $R/val-$m; done
for k in 1 2 3 4; do val $R/coconut/stage-$k $R/val-coconut-s$k; python benchmarks/chain_steps.py $R/val-coconut-s$k/records.jsonl graph $k; done
# 4. The zoo members (validated on 500 problems), then the test table; the Coconut stages as NAME-sK so that
#    the plot joins them to the final model's curve
python benchmarks/install_zoo_member.py $R/compact-reinit-1k tiny-graph-compact-1k
python benchmarks/install_zoo_member.py $C tiny-graph-compact
python benchmarks/install_zoo_member.py $R/coconut tiny-graph-coconut
python benchmarks/install_zoo_member.py $R/codi tiny-graph-codi
for k in 1 2 3 4; do cp -r $R/coconut/stage-$k $R/tiny-graph-coconut-s$k; done
M=coconut@tiny-graph-compact,coconut@$R/compact-5k,coconut@$R/nochain,coconut@$R/pause,coconut@$R/pause-curriculum
M=$M,coconut@$R/icot,coconut@tiny-graph-coconut,coconut@tiny-graph-codi
for k in 1 2 3 4; do M=$M,coconut@$R/tiny-graph-coconut-s$k; done
brevity bench --task graph --model tiny-graph-compact --n 2000 --latency-n 20 --batch-size 64 --out $R/bench \
  --methods "$M"
python benchmarks/latent_table.py $R/bench $R brevity-runs --plot docs/results/latent_graph.png \
  > docs/results/latent_graph.md
python benchmarks/graph_errors.py $R/bench/records.jsonl > docs/results/graph_errors.md
brevity explain --model tiny-graph-coconut --task graph --n 500 --out $R/explain-coconut.json \
  > docs/results/explain_coconut_graph.txt 2>&1
brevity explain --model tiny-graph-codi --task graph --n 500 --out $R/explain-codi.json \
  > docs/results/explain_codi_graph.txt 2>&1
# 5. Coconut stages 1 and 2 at 1,200 steps per stage (mult's stage 1 needed that length), on validation
brevity train coconut --base tiny-graph-compact --task graph --n-train 100000 --stage0-steps 0 \
  --out $R/coconut-1200 --stages 2 --per-step 1 --steps 1200 --save-stages
val $R/coconut-1200/stage-1 $R/val-c1200-s1
val $R/coconut-1200 $R/val-c1200-s2
val $R/coconut/stage-1 $R/val-coconut-stage-1
val $R/coconut/stage-2 $R/val-coconut-stage-2
for v in val-c1200-s1 val-c1200-s2 val-coconut-stage-1 val-coconut-stage-2; do
  python benchmarks/graph_errors.py $R/$v/records.jsonl | tail -1
done
# 6. How far the embedding rows had collapsed, before and after
python benchmarks/embedding_collapse.py tiny-base $R/compact-5k tiny-graph-compact
