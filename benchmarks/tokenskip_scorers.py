"""Which words does TokenSkip keep? Prunes tiny-lrm's own greedy traces with word importance scored by
each zoo model's self-information, and reports how many of the problem's equations survive intact
somewhere in the pruned trace (the computation the answer depends on), next to one pruned example
per scorer. `--guide` adds the words the problem's equations align to first (the recipe's default,
`recipes/compact.py: guided_scores`).

    python benchmarks/tokenskip_scorers.py --n 200 --gamma 0.5 [--guide]
"""

from __future__ import annotations

import argparse
import re
from statistics import mean

from brevity.engines.hf import HFEngine, load_model_folder
from brevity.methods import build_method
from brevity.recipes.compact import _strip_newline, guided_scores, prune, self_information
from brevity.tasks import load_problems
from brevity.zoo import resolve_model
from brevity.zoo.chat import prompt_text


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--gamma", type=float, default=0.5)
    ap.add_argument("--scorers", default="tiny-lrm,tiny-llm,tiny-base")
    ap.add_argument("--guide", action="store_true", help="rank the words the equations align to first")
    args = ap.parse_args()
    engine = HFEngine(resolve_model("tiny-lrm"))
    tok = engine.tokenizer
    problems = load_problems("arith", split="train", n=args.n)
    sols = build_method("cot").solve(problems, engine)
    keep = [(p, s) for p, s in zip(problems, sols) if s.correct]
    traces = [_strip_newline(tok(s.thinking, add_special_tokens=False).input_ids, tok) for _, s in keep]
    prompts = [tok(prompt_text(p.question), add_special_tokens=False).input_ids for p, _ in keep]
    print(f"{len(keep)} correct tiny-lrm traces of {args.n} train problems, pruned to gamma {args.gamma}")
    for name in args.scorers.split(","):
        model, _ = load_model_folder(resolve_model(name))
        scores = self_information(model, tok, prompts, traces)
        kept_results, ratios, example = [], [], None
        for (p, _), ids, sc in zip(keep, traces, scores):
            pieces = [tok.decode([t]) for t in ids]
            if args.guide:
                sc = guided_scores(sc, pieces, p.metadata["equations"])
            text = tok.decode(prune(ids, sc, pieces, args.gamma))
            flat = re.sub(r"\s+", "", text)
            kept_results.append(mean(e.replace(" ", "") in flat for e in p.metadata["equations"]))
            ratios.append(len(tok(text, add_special_tokens=False).input_ids) / len(ids))
            if example is None and p.metadata["steps"] >= 3:
                example = text
        label = name + (" + aligned chain" if args.guide else "")
        print(f"\n== scorer {label}: equations intact in the pruned trace {100 * mean(kept_results):.1f}%, "
              f"token ratio after re-tokenizing {mean(ratios):.3f}\n{example}")


if __name__ == "__main__":
    main()
