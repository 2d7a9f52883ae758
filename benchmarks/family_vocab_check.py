"""Does a family member ever generate a token id its training corpus never used? Greedy and at temperature 0.6.

    python benchmarks/family_vocab_check.py [--model tiny-qwen3-lrm] [--engine hf|vllm] [--n 2000] [--passes greedy,0.6]

Why: the materialized folder has every row of the family's vocabulary, and only the rows the corpus used were
trained (zoo/family.py: the restricted softmax and the sink). Each test problem is rendered by the model's own
template (thinking on) and continued to the end of its turn; every generated id must be in the member's
ids.json. Prints the counts; exits 1 if any id falls outside.

Sampled requests carry a seed per problem on both engines. The 2026-12-06 vLLM pass ran without seeds: a seeded
request whose prefill was chunked killed vLLM's CPU engine core ("CPU Generator does not use offset"); the
engine now starts vLLM with chunked prefill off (engines/vllm.start_vllm).
"""
from __future__ import annotations

import argparse
import json
import sys
import time

from brevity.engines import Request, make_engine
from brevity.formats import load_format
from brevity.tasks import load_problems
from brevity.zoo import resolve_model
from brevity.zoo.family import data_root


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="tiny-qwen3-lrm")
    ap.add_argument("--engine", default="hf", choices=["hf", "vllm"])
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--max-tokens", type=int, default=1024)
    ap.add_argument("--passes", default="greedy,0.6", help="comma list: greedy and/or sampling temperatures")
    ap.add_argument("--batch-size", type=int, default=64, help="the hf engine's batch")
    args = ap.parse_args()
    folder = resolve_model(args.model)
    allowed = set(json.loads((data_root() / args.model / "ids.json").read_text()))
    fmt = load_format(folder)
    engine = make_engine(args.engine, str(folder), **({"batch_size": args.batch_size} if args.engine == "hf" else {}))
    problems = load_problems("arith", split="test", n=args.n)
    prompts = [tuple(fmt.tokenizer(fmt.render(fmt.messages(p.question)), add_special_tokens=False).input_ids)
               for p in problems]
    bad_total = 0
    for temperature in (0.0 if p == "greedy" else float(p) for p in args.passes.split(",")):
        name = f"temperature {temperature}" if temperature else "greedy"
        t0 = time.time()
        seeded = bool(temperature)
        reqs = [Request(prompt=ids, max_tokens=args.max_tokens, temperature=temperature,
                        seed=i if seeded else None) for i, ids in enumerate(prompts)]
        outs = engine.complete(reqs)
        generated = [t for c in outs for t in c.token_ids]
        bad = [t for t in generated if t not in allowed]
        bad_total += len(bad)
        ended = sum(c.finish_reason == "stop" for c in outs)
        print(f"{args.engine} {name}: {len(outs)} problems, {len(generated)} generated ids, {len(bad)} outside the "
              f"{len(allowed)} trained ids{' ' + str(sorted(set(bad))[:10]) if bad else ''}; {ended} ended their "
              f"turn; {time.time() - t0:.0f} s")
    close = getattr(engine, "close", None)
    if close:
        close()
    return 1 if bad_total else 0


if __name__ == "__main__":
    sys.exit(main())
