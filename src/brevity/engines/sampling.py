"""Per-request sampling for a batched `generate`, and a model's own sampling defaults.

transformers' `generate` samples the whole batch from torch's global generator with one temperature, so a
request's tokens would depend on what it was batched with. `RowSampler` samples each row itself, with that
row's settings and its own `torch.Generator`, and leaves a single finite logit (the drawn token) so that
`generate` runs greedily (do_sample=False) and picks exactly it. Greedy rows (temperature 0) are untouched.
The same request with the same seed thus draws the same tokens alone or in any batch (up to the float noise
of batched arithmetic, which greedy decoding has too).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import LogitsProcessor

from brevity.engines.base import Request


@dataclass(frozen=True)
class SamplingDefaults:
    """A model's sampling settings from its generation_config.json; greedy (temperature 0) when it has none
    or sets do_sample false. The gateway applies them to requests that set no temperature, as vLLM does."""

    temperature: float = 0.0
    top_p: float = 1.0
    top_k: int = 0

    @property
    def greedy(self) -> bool:
        return self.temperature <= 0


def sampling_defaults(folder: str | Path | None) -> SamplingDefaults:
    path = Path(folder) / "generation_config.json" if folder else None
    if path is None or not path.is_file():
        return SamplingDefaults()
    try:
        cfg = json.loads(path.read_text())
    except ValueError:
        return SamplingDefaults()
    if not cfg.get("do_sample"):  # transformers decodes greedily then, whatever temperature says
        return SamplingDefaults()
    return SamplingDefaults(temperature=float(cfg.get("temperature", 1.0) or 0.0),
                            top_p=float(cfg.get("top_p", 1.0) or 1.0), top_k=int(cfg.get("top_k", 0) or 0))


def filter_logits(logits: torch.Tensor, temperature: float, top_p: float, top_k: int) -> torch.Tensor:
    """One row's logits as sampling sees them: divided by the temperature, then the top-k and nucleus (top-p)
    cuts (-inf outside), as transformers' and vLLM's samplers apply them."""
    x = logits / temperature
    if 0 < top_k < x.shape[-1]:
        kth = torch.topk(x, top_k).values[-1]
        x = x.masked_fill(x < kth, float("-inf"))
    if top_p < 1.0:
        sorted_x, order = torch.sort(x, descending=True)
        cum = sorted_x.softmax(-1).cumsum(-1)
        drop = cum - sorted_x.softmax(-1) >= top_p  # keep the smallest prefix whose mass reaches top_p
        x = x.masked_fill(torch.zeros_like(drop).scatter(0, order, drop), float("-inf"))
    return x


class RowSampler(LogitsProcessor):
    """Draws each sampled row's next token with the row's own generator; see the module docstring."""

    def __init__(self, reqs: Sequence[Request], device: torch.device | str):
        self.rows = []
        for r, q in enumerate(reqs):
            if q.sampled:
                gen = torch.Generator(device=device)
                # No seed: one drawn from torch's global generator, so a caller that seeds torch (a training
                # run) stays repeatable; the server seeds that generator from the OS at start.
                gen.manual_seed(q.seed if q.seed is not None else int(torch.randint(2**62, ())))
                self.rows.append((r, q, gen))

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        out = scores.clone()  # never in place: generate keeps the raw logits it passed in (output_logits)
        for r, q, gen in self.rows:
            probs = filter_logits(scores[r], q.temperature, q.top_p, q.top_k).softmax(-1)
            token = torch.multinomial(probs, 1, generator=gen)
            out[r] = float("-inf")
            out[r, token] = 0.0
        return out
