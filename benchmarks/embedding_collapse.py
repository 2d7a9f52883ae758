"""How far a model's embedding rows have collapsed onto one direction (`recipes/latent/train.reinit_untrained`):
rows with cosine >= 0.99 with the mean row, the largest cosine among the others, and the mean pairwise cosine
of `graph`'s concept names, for each model given.

    python benchmarks/embedding_collapse.py tiny-base brevity-runs/latent-graph/compact-5k tiny-graph-compact
"""

import sys

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from brevity.recipes.latent.train import mean_row_cosine
from brevity.tasks.graph import SYLLABLES
from brevity.zoo import resolve_model

for name in sys.argv[1:]:
    path = resolve_model(name)
    tok, model = AutoTokenizer.from_pretrained(path), AutoModelForCausalLM.from_pretrained(path)
    emb = model.get_input_embeddings().weight.detach()
    cos = mean_row_cosine(emb)
    ids = tok.convert_tokens_to_ids([f"Ġ{a}{b}pus" for a in SYLLABLES for b in SYLLABLES])
    x = torch.nn.functional.normalize(emb[ids], dim=-1)
    pairwise = (x @ x.T)[~torch.eye(len(ids), dtype=torch.bool)].mean().item()
    print(f"{name}: {int((cos >= 0.99).sum())} of {len(cos)} rows at cosine >= 0.99 with the mean row, "
          f"the rest at most {cos[cos < 0.99].max():.2f}; {len(ids)} concept names, mean pairwise cosine "
          f"{pairwise:.3f}")
