"""What TokenSkip's training data looks like: prunes tiny-lrm's own correct greedy traces with the recipe
(`recipes/compact.py: prune_text`, self-information under the scorer) at every gamma, and reports per
gamma the kept share of thinking tokens (re-tokenized), line breaks per trace, glued words (a word that
ran into the next one: `step.Omar`, `2Multiplying`), the problem's equations intact, and one example.

    python benchmarks/tokenskip_data.py --n 300 [--scorer tiny-llm]
"""

from __future__ import annotations

import argparse
import re
from statistics import mean

from brevity.engines.hf import HFEngine, load_model_folder
from brevity.methods import build_method
from brevity.recipes.compact import TOKENSKIP_GAMMAS, _strip_newline, prune_text, self_information
from brevity.tasks import load_problems
from brevity.zoo import resolve_model
from brevity.zoo.chat import prompt_text

GLUED = re.compile(r"[.,:;!?\d][A-Za-z]|[a-z][A-Z]")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--scorer", default="tiny-llm")
    args = ap.parse_args()
    engine = HFEngine(resolve_model("tiny-lrm"))
    tok = engine.tokenizer
    problems = load_problems("arith", split="train", n=args.n)
    sols = build_method("cot").run(problems, engine)
    keep = [(p, s) for p, s in zip(problems, sols) if s.correct]
    texts = [tok.decode(_strip_newline(tok(s.thinking, add_special_tokens=False).input_ids, tok)) for _, s in keep]
    enc = tok(texts, add_special_tokens=False, return_offsets_mapping=True)
    prompts = [tok(prompt_text(p.question), add_special_tokens=False).input_ids for p, _ in keep]
    scorer, _ = load_model_folder(resolve_model(args.scorer))
    scores = self_information(scorer, tok, prompts, enc.input_ids)
    print(f"{len(keep)} correct tiny-lrm traces of {args.n} train problems; scorer {args.scorer}")
    print("| gamma | kept thinking tokens | line breaks per trace | glued words per trace | equations intact |")
    print("|---|---|---|---|---|")
    examples = {}
    for g in sorted(TOKENSKIP_GAMMAS, reverse=True):
        kept, lines, glued, intact = [], [], [], []
        for (p, _), text, ids, offsets, sc in zip(keep, texts, enc.input_ids, enc.offset_mapping, scores):
            pruned = prune_text(text, offsets, sc, g)
            kept.append(len(tok(pruned, add_special_tokens=False).input_ids) / len(ids))
            lines.append(pruned.count("\n"))
            glued.append(len(GLUED.findall(pruned)) - len(GLUED.findall(text)))
            intact.append(mean(e in pruned for e in p.metadata["equations"]))
        examples[g] = prune_text(texts[0], enc.offset_mapping[0], scores[0], g)
        print(f"| {g} | {mean(kept):.3f} | {mean(lines):.1f} | {mean(glued):.2f} | {100 * mean(intact):.1f}% |")
    for g, text in examples.items():
        print(f"\n== gamma {g}\n{text}")


if __name__ == "__main__":
    main()
