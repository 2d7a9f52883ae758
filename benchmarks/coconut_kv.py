"""KV-cached continuous-thought decoding against Coconut's re-forward decoding (the official code re-runs
the whole sequence for every thought and token): same outputs, and the speed ratio against sequence
length, at batch 1 (what one user waits for) or with all problems in one batch (--batched); median of
--repeats runs, same model, prompts and settings.

    python benchmarks/coconut_kv.py --model DIR --task mult --n 20 --thoughts 7 --max-new 16,64,160
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

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
    args = ap.parse_args()
    torch.set_num_threads(2)
    model, tok = load_model_folder(resolve_model(args.model), device="cpu")

    class _E:  # prompts() wants an engine-like object with a tokenizer
        tokenizer = tok

    probs = load_problems(args.task, split="test", n=args.n)
    bot, eot = tok.convert_tokens_to_ids([BOT, EOT])
    prefixes = [list(p) + [bot] for p in prompts(probs, _E)]
    groups = [prefixes] if args.batched else [[p] for p in prefixes]
    print(f"model {args.model}, task {args.task}, {args.n} test problems at batch {len(groups[0])}, "
          f"{args.thoughts} thoughts, "
          f"median of {args.repeats}")
    print("max_new  mean_seq_len  same_tokens  same_answer  cached_s  reforward_s  ratio")
    for cap in (int(x) for x in args.max_new.split(",")):
        same_tok = same_ans = 0
        t_c, t_r, lens = [], [], []
        for group in groups:
            rc, rr = [], []
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                a, _ = cached_generate(model, group, args.thoughts, eot, tok.eos_token_id, tok.pad_token_id, cap)
                rc.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                b, _ = reforward_generate(model, group, args.thoughts, eot, tok.eos_token_id, tok.pad_token_id, cap)
                rr.append(time.perf_counter() - t0)
            t_c.append(statistics.median(rc))
            t_r.append(statistics.median(rr))
            for pre, x, y in zip(group, a, b):
                lens.append(len(pre) + args.thoughts + 1 + len(x))
                same_tok += x == y
                same_ans += tok.decode(x).split("The answer is")[-1].strip() == \
                    tok.decode(y).split("The answer is")[-1].strip()
        c, r = sum(t_c), sum(t_r)
        print(f"{cap:7d}  {statistics.mean(lens):12.1f}  {same_tok:5d}/{len(probs):<5d} {same_ans:5d}/{len(probs):<5d}"
              f" {c:8.2f}  {r:11.2f}  {r / c:5.2f}")


if __name__ == "__main__":
    main()
