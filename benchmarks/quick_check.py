"""A quick look at a few methods on one model, on the first N validation problems, without writing a
bench run: accuracy, mean thinking tokens, probe tokens and wall time per method, and the first
trace of the last method. Used for the small validation checks quoted in docs/findings/.

    [BREVITY_THREADS=2] python benchmarks/quick_check.py tiny-lrm-tokenskip 64 "tokenskip:1.0,tokenskip:0.5"
"""

import os
import statistics
import sys
import time

import torch

from brevity.engines.hf import HFEngine
from brevity.methods import build_method
from brevity.tasks import load_problems
from brevity.zoo import resolve_model

# One thread by default: it ran beside trainings (two jobs on two cores slow each tenfold); BREVITY_THREADS=2 alone.
torch.set_num_threads(int(os.environ.get("BREVITY_THREADS", "1")))
eng = HFEngine(resolve_model(sys.argv[1]), batch_size=64)
probs = load_problems("arith", split="validation", n=int(sys.argv[2]))
for spec in sys.argv[3].split(","):
    t = time.time()
    s = build_method(spec).run(probs, eng)
    print(f"{spec:14s} acc {statistics.mean(x.correct for x in s):.3f} think "
          f"{statistics.mean(x.thinking_tokens for x in s):.1f} probe {statistics.mean(x.probe_tokens for x in s):.1f} "
          f"{time.time() - t:.0f}s", flush=True)
print(s[0].thinking[:300])
