"""Per-request sampling for a batched `generate`, and a model's own sampling defaults.

transformers' `generate` samples the whole batch from torch's global generator with one temperature, so a
request's tokens would depend on what it was batched with. `RowProcessor` treats each row itself: first the
row's own logit shaping (vLLM's extensions on `Request`: allowed ids, min_tokens, bad words, repetition,
presence and frequency penalties), then, for a sampled row, a draw with that row's settings and its own
`torch.Generator`, leaving a single finite logit (the drawn token) so that `generate` runs greedily
(do_sample=False) and picks exactly it. A greedy row gets its shaped logits and `generate` takes their argmax.
`RowStopIds` ends a row at one of its own stop ids (an ignore_eos row
writes on past an eos, as in vLLM).
The same request with the same seed thus draws the same tokens alone or in any batch (up to the float noise
of batched arithmetic, which greedy decoding has too).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import LogitsProcessor, StoppingCriteria

from brevity.engines.base import Request, Shaping


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


def filter_logits(logits: torch.Tensor, temperature: float, top_p: float, top_k: int,
                  min_p: float = 0.0) -> torch.Tensor:
    """One row's logits as sampling sees them: divided by the temperature, then the top-k, min-p (tokens below
    min_p times the most likely one's probability) and nucleus (top-p) cuts (-inf outside), as vLLM applies them."""
    x = logits / temperature
    if 0 < top_k < x.shape[-1]:
        kth = torch.topk(x, top_k).values[-1]
        x = x.masked_fill(x < kth, float("-inf"))
    if min_p > 0:
        probs = x.softmax(-1)
        x = x.masked_fill(probs < min_p * probs.max(), float("-inf"))
    if top_p < 1.0:
        sorted_x, order = torch.sort(x, descending=True)
        cum = sorted_x.softmax(-1).cumsum(-1)
        drop = cum - sorted_x.softmax(-1) >= top_p  # keep the smallest prefix whose mass reaches top_p
        x = x.masked_fill(torch.zeros_like(drop).scatter(0, order, drop), float("-inf"))
    return x


def bad_word_ids(tokenizer, words: Sequence[str]) -> list[list[int]]:
    """vLLM's token sequences for `bad_words` (SamplingParams.update_from_tokenizer): each word as written
    (leading spaces dropped), and with one leading space where that spells it with a different first token
    and as many tokens."""
    seqs: list[list[int]] = []
    for word in dict.fromkeys(words):
        plain = tokenizer.encode(word.lstrip(), add_special_tokens=False)
        if plain:
            seqs.append(plain)
        spaced = tokenizer.encode(" " + word.lstrip(), add_special_tokens=False)
        if spaced and plain and spaced[0] != plain[0] and len(spaced) == len(plain):
            seqs.append(spaced)
    return seqs


def shape_logits(x: torch.Tensor, q: Shaping, prompt: torch.Tensor | None, new: torch.Tensor,
                 eos: Sequence[int], bad: Sequence[Sequence[int]] = ()) -> torch.Tensor:
    """One row's logits after vLLM's extensions (`prompt`: the row's prompt ids; `new`: the tokens this call
    generated so far; `bad`: the row's bad_words as token sequences)."""
    inf = float("-inf")
    if q.allowed_token_ids is not None:
        keep = torch.full_like(x, inf)
        idx = torch.tensor(q.allowed_token_ids, device=x.device)
        keep[idx] = x[idx]
        x = keep
    banned = [*eos, *q.stop_token_ids] if len(new) < q.min_tokens else []
    if bad:  # a word's last token, where its other tokens were just generated
        done = new.tolist()
        banned += [b[-1] for b in bad if len(b) - 1 <= len(done) and done[len(done) - len(b) + 1:] == list(b[:-1])]
    if banned:
        x = x.index_fill(0, torch.tensor(banned, device=x.device), inf)
    if q.repetition_penalty != 1.0:
        seen = torch.unique(torch.cat([prompt, new]))
        vals = x[seen]
        x = x.index_copy(0, seen, torch.where(vals > 0, vals / q.repetition_penalty, vals * q.repetition_penalty))
    if (q.presence_penalty or q.frequency_penalty) and len(new):
        counts = torch.bincount(new, minlength=x.shape[-1])[: x.shape[-1]].to(x.dtype)
        x = x - q.frequency_penalty * counts - q.presence_penalty * (counts > 0).to(x.dtype)
    return x


class RowProcessor(LogitsProcessor):
    """Shapes and draws each row's next token by the row's own settings; see the module docstring."""

    def __init__(self, reqs: Sequence[Request], device: torch.device | str, prompts: Sequence[Sequence[int]],
                 start: int, eos: Sequence[int], tokenizer=None):
        self.rows, self.start, self.eos = [], start, list(eos)
        self.bad = {r: bad_word_ids(tokenizer, q.shaping.bad_words) for r, q in enumerate(reqs) if q.shaping.bad_words}
        # The prompt ids a repetition penalty looks at, as tensors once per call, not once per step.
        self.prompts = {r: torch.tensor(list(prompts[r]), dtype=torch.long, device=device)
                        for r, q in enumerate(reqs) if q.shaping.repetition_penalty != 1.0}
        for r, q in enumerate(reqs):
            gen = None
            if q.sampled:
                gen = torch.Generator(device=device)
                # No seed: one drawn from torch's global generator, so a caller that seeds torch (a training
                # run) stays repeatable; the server seeds that generator from the OS at start.
                gen.manual_seed(q.seed if q.seed is not None else int(torch.randint(2**62, ())))
            if gen is not None or q.shaped:
                self.rows.append((r, q, gen))

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        out = scores.clone()  # never in place: generate keeps the raw logits it passed in (output_logits)
        for r, q, gen in self.rows:
            x = scores[r]
            if q.shaped:
                x = shape_logits(x, q.shaping, self.prompts.get(r), input_ids[r, self.start:], self.eos,
                                 self.bad.get(r, ()))
            if gen is None:
                out[r] = x
                continue
            probs = filter_logits(x, q.temperature, q.top_p, q.top_k, q.shaping.min_p).softmax(-1)
            token = torch.multinomial(probs, 1, generator=gen)
            out[r] = float("-inf")
            out[r, token] = 0.0
        return out


class RowStopIds(StoppingCriteria):
    """Ends each row at one of its own stop ids (vLLM's stop_token_ids; the eos ids too, unless ignore_eos,
    where `generate` is not given them)."""

    def __init__(self, stops: Sequence[set[int]], start: int):
        self.stops = list(stops)
        self.start = start

    def __call__(self, input_ids: torch.LongTensor, scores, **kwargs) -> torch.BoolTensor:
        last = input_ids[:, -1].tolist() if input_ids.shape[1] > self.start else [None] * input_ids.shape[0]
        return torch.tensor([t in s for t, s in zip(last, self.stops)], device=input_ids.device)
