"""The hf engine's batched generation against plain `model.generate` on the same model, batch and
prompts. Prints tokens/s of each and their ratio (median of --repeats interleaved runs).

    python benchmarks/engine_throughput.py --model tiny-lrm --n 64 --batch 32
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from brevity.engines.base import Request
from brevity.engines.hf import HFEngine
from brevity.tasks import load_problems
from brevity.zoo import resolve_model
from brevity.zoo.chat import prompt_text


def plain_generate(model, tok, prompts: list[str], batch: int, max_new: int) -> int:
    tokens = 0
    for i in range(0, len(prompts), batch):
        enc = tok(prompts[i:i + batch], return_tensors="pt", padding=True, add_special_tokens=False)
        with torch.inference_mode():
            out = model.generate(**enc, max_new_tokens=max_new, do_sample=False, pad_token_id=tok.pad_token_id,
                                 eos_token_id=tok.eos_token_id)
        for row in out[:, enc.input_ids.shape[1]:].tolist():
            tokens += row.index(tok.eos_token_id) + 1 if tok.eos_token_id in row else len(row)
    return tokens


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="tiny-lrm")
    ap.add_argument("--n", type=int, default=64)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--max-new", type=int, default=1024)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(2)
    engine = HFEngine(resolve_model(args.model), batch_size=args.batch)
    model, tok = engine.model(), engine.tokenizer
    # Sort prompts by length as the engine does, so both see the same batches.
    prompts = sorted((prompt_text(p.question) for p in load_problems("arith", split="validation", n=args.n)),
                     key=lambda s: len(tok(s).input_ids))
    plain_tps, engine_tps = [], []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        k = plain_generate(model, tok, prompts, args.batch, args.max_new)
        plain_tps.append(k / (time.perf_counter() - t0))
        engine.cache.clear()
        t0 = time.perf_counter()
        outs = engine.complete([Request(p, args.max_new) for p in prompts])
        engine_tps.append(sum(len(c.token_ids) for c in outs) / (time.perf_counter() - t0))
    p, e = statistics.median(plain_tps), statistics.median(engine_tps)
    print(f"model={args.model} n={args.n} batch={args.batch} repeats={args.repeats}")
    print(f"plain model.generate: {p:.0f} tok/s   hf engine: {e:.0f} tok/s   ratio: {e / p:.2f}")


if __name__ == "__main__":
    main()
