"""KV-cached continuous-thought decoding against Coconut's re-forward decoding (the official code re-runs
the whole sequence for every thought and token): same outputs, and the speed ratio against sequence
length, at batch 1 (what one user waits for) or with all problems in one batch (--batched); median of
--repeats runs, same model, prompts and settings. With several --threads, both paths run at each count:
a tiny model's single-position steps can be faster on one thread, where re-forward gains from two.
With --grad-modes inference,no_grad both paths also run under each autograd mode, to measure in one run
what decoding under inference_mode (what the methods use) gains over no_grad.

    python benchmarks/coconut_kv.py --model DIR --task mult --n 20 --thoughts 7 --max-new 16,64,160 --threads 1,2
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from brevity.cli import parse_task
from brevity.engines.hf import load_model_folder
from brevity.methods.control import prompts
from brevity.methods.latent import BOT, EOT, cached_generate, reforward_generate
from brevity.tasks import load_problems
from brevity.zoo import resolve_model


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--task", default="mult")
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--thoughts", type=int, default=7)
    ap.add_argument("--max-new", default="16,64,160", help="caps on decoded tokens after <eot>")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--batched", action="store_true", help="all problems in one left-padded batch")
    ap.add_argument("--threads", default="2", help="comma-separated torch thread counts to run both paths at")
    ap.add_argument("--grad-modes", default="inference", help="comma-separated: inference, no_grad")
    args = ap.parse_args()
    task = parse_task(args.task)
    model, tok = load_model_folder(resolve_model(args.model), device="cpu")

    class _E:  # prompts() wants an engine-like object with a tokenizer
        tokenizer = tok

    probs = load_problems(task.name, split="test", n=args.n, **dict(task.params))
    bot, eot = tok.convert_tokens_to_ids([BOT, EOT])
    prefixes = [list(p) + [bot] for p in prompts(probs, _E)]
    groups = [prefixes] if args.batched else [[p] for p in prefixes]
    print(f"model {args.model}, task {args.task}, {args.n} test problems at batch {len(groups[0])}, "
          f"{args.thoughts} thoughts, "
          f"median of {args.repeats}")
    modes = args.grad_modes.split(",")
    if not set(modes) <= set(GRAD_MODES):
        ap.error(f"--grad-modes takes {', '.join(GRAD_MODES)}")
    print(("grad_mode  " if len(modes) > 1 else "")
          + "threads  max_new  mean_seq_len  same_tokens  same_answer  cached_s  reforward_s  ratio")
    for threads in (int(x) for x in args.threads.split(",")):
        torch.set_num_threads(threads)
        for cap in (int(x) for x in args.max_new.split(",")):
            for mode in modes:
                with GRAD_MODES[mode]():
                    row = measure(model, tok, groups, args.thoughts, cap, args.repeats, eot)
                print((f"{mode:9s}  " if len(modes) > 1 else "") + f"{threads:7d}  {cap:7d}  " + row)


# The decoders are decorated with inference_mode; their undecorated bodies run under the mode chosen here.
GRAD_MODES = {"inference": torch.inference_mode, "no_grad": torch.no_grad}
_cached, _reforward = cached_generate.__wrapped__, reforward_generate.__wrapped__


def measure(model, tok, groups, thoughts: int, cap: int, repeats: int, eot: int) -> str:
    """Both paths over every group at one cap on decoded tokens: agreement, summed medians, ratio."""
    same_tok = same_ans = 0
    t_c, t_r, lens = [], [], []
    for group in groups:
        rc, rr = [], []
        for _ in range(repeats):
            t0 = time.perf_counter()
            a, _ = _cached(model, group, thoughts, eot, tok.eos_token_id, tok.pad_token_id, cap)
            rc.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            b, _ = _reforward(model, group, thoughts, eot, tok.eos_token_id, tok.pad_token_id, cap)
            rr.append(time.perf_counter() - t0)
        t_c.append(statistics.median(rc))
        t_r.append(statistics.median(rr))
        for pre, x, y in zip(group, a, b):
            lens.append(len(pre) + thoughts + 1 + len(x))
            same_tok += x == y
            same_ans += tok.decode(x).split("The answer is")[-1].strip() == \
                tok.decode(y).split("The answer is")[-1].strip()
    n = len(lens)
    c, r = sum(t_c), sum(t_r)
    return (f"{statistics.mean(lens):12.1f}  {same_tok:5d}/{n:<5d} {same_ans:5d}/{n:<5d}"
            f" {c:8.2f}  {r:11.2f}  {r / c:5.2f}")

if __name__ == "__main__":
    main()
