"""Per-token loss of models on TokenSkip's training data, by gamma: how far the pruned traces are from what
`tiny-lrm` writes, and what a fine-tune did to its own style (issue 22). Builds the data as `brevity train
tokenskip` does (the rollout cache makes it quick) and scores the first --n examples.

    python benchmarks/tokenskip_loss.py --n 300 [FOLDER ...]
"""

from __future__ import annotations

import argparse
import collections
import re

import torch

from brevity.engines.hf import load_model_folder
from brevity.recipes.sft import collate, encode_examples
from brevity.zoo.build import recipe_examples
from brevity.zoo.registry import MEMBERS, resolve_model


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("models", nargs="*", help="fine-tuned folders to score besides tiny-lrm")
    ap.add_argument("--n", type=int, default=300)
    args = ap.parse_args()
    member = next(m for m in MEMBERS.values() if m.recipe == "tokenskip")
    parent = resolve_model(member.parent)
    model, tok = load_model_folder(parent)
    examples = recipe_examples(member, model, tok, parent)[:args.n]
    enc = encode_examples(tok, examples, 1536)
    gammas = [(m.group(1) if (m := re.search(r"ratio: ([0-9.]+)", e[0])) else "1.0") for e in examples]
    for path in [parent, *args.models]:
        net, _ = load_model_folder(path)
        net.eval()
        by = collections.defaultdict(lambda: [0.0, 0])
        with torch.no_grad():
            for i in range(0, len(enc), 16):
                idx = list(range(i, min(i + 16, len(enc))))
                ids, mask, labels = collate(enc, idx, tok.pad_token_id)
                logits = net(input_ids=ids, attention_mask=mask).logits[:, :-1]
                lab = labels[:, 1:]
                nll = torch.nn.functional.cross_entropy(logits.transpose(1, 2), lab, ignore_index=-100,
                                                        reduction="none")
                for r, j in enumerate(idx):
                    keep = lab[r] != -100
                    by[gammas[j]][0] += nll[r][keep].sum().item()
                    by[gammas[j]][1] += int(keep.sum())
        print(path, {g: round(a / b, 3) for g, (a, b) in sorted(by.items())})


if __name__ == "__main__":
    main()
