"""Fine-tuning on compact chains, from the model's own correct traces (recipes/rollouts.py).

- `tokenskip` (Xia et al. 2025): score every thinking word, drop the least important ones down to a
  ratio gamma, and fine-tune with gamma in the prompt (template `tokenskip` of prompts.toml), so the
  user picks gamma at inference. The original scores tokens with LLMLingua-2, a trained classifier we
  cannot download; here a word's importance is its self-information under a scorer model (the
  summed -log p of its tokens, as in Selective Context), one forward pass per trace.
  Departures from the official data (hemingkx/TokenSkip): an equation (operands, operators, `=`, result) is
  one unit, Brevity's own choice, and a unit with a digit is always kept (LLMLingua-2's `force_reserve_digit`,
  which the official code sets only on its LLaMA-3 path, not on the Qwen path of its released adapters); so the
  chain's equations, which an earlier version ranked first by aligning them to the trace, are kept anyway and
  self-information orders the other words (docs/methods/compact-fine-tuning.md lists every departure). Kept
  units are joined by a space, or by a line break where the dropped text had one, never glued; each question gets ONE
  gamma drawn from {0.5, ..., 1.0}, and gamma 1.0 is trained on the plain prompt.
- `shortest` (Munkhbat et al. 2025; Kimi k1.5's shortest rejection sampling): keep the shortest
  correct of K sampled traces per question and fine-tune on those, with the plain prompt. Munkhbat et
  al. condition the sampler (few-shot concise exemplars) because plain samples are rarely shorter; a
  member's `conditions` add one candidate per method spec (e.g. `tale-ep`), from its `sampler`.
"""

from __future__ import annotations

import bisect
import math
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from brevity.recipes.rollouts import Rollout
from brevity.recipes.sft import Example
from brevity.tasks import Problem
from brevity.zoo.chat import chat_text, completion_text, prompt_text

TOKENSKIP_GAMMAS = (0.5, 0.6, 0.7, 0.8, 0.9, 1.0)  # the official recipe's ratios
# An equation is atomic: operands and operators, `=`, and its result.
EQUATION = re.compile(r"\d+(?:\s*[-+*/×x]\s*\d+)+\s*=\s*\d+")


@torch.inference_mode()
def self_information(model, tokenizer, prompts: Sequence[Sequence[int]], traces: Sequence[Sequence[int]],
                     batch_size: int = 64) -> list[list[float]]:
    """-log p(token | everything before it) for every trace token, in batched forward passes."""
    out: list[list[float]] = []
    pad = tokenizer.pad_token_id
    for start in range(0, len(traces), batch_size):
        rows = [list(p) + list(t) for p, t in zip(prompts[start:start + batch_size], traces[start:start + batch_size])]
        width = max(len(r) for r in rows)
        ids = torch.tensor([r + [pad] * (width - len(r)) for r in rows])
        mask = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rows])
        logp = model(input_ids=ids, attention_mask=mask).logits.float().log_softmax(-1)
        for r, (p, t) in enumerate(zip(prompts[start:start + batch_size], traces[start:start + batch_size])):
            pos = torch.arange(len(p) - 1, len(p) + len(t) - 1)
            out.append((-logp[r, pos, torch.tensor(list(t))]).tolist())
    return out


@dataclass
class Unit:
    """A span of the trace that is kept or dropped whole: a word, or an equation."""

    start: int  # character offsets in the trace text
    end: int
    forced: bool  # carries a digit: always kept


def text_units(text: str) -> list[Unit]:
    """Equations, then every other whitespace-separated word; in text order."""
    spans = [(m.start(), m.end()) for m in EQUATION.finditer(text)]
    units = [Unit(a, b, True) for a, b in spans]
    pos = 0
    for a, b in spans + [(len(text), len(text))]:
        units += [Unit(pos + m.start(), pos + m.end(), any(c.isdigit() for c in m.group()))
                  for m in re.finditer(r"\S+", text[pos:a])]
        pos = b
    return sorted(units, key=lambda u: u.start)


def join_units(text: str, units: Sequence[Unit]) -> str:
    """The kept units in order. Between two of them goes the original text where nothing was dropped (`6.`
    stays `6.`), else a line break if the dropped text had one, else a space: dropping a word never glues its
    neighbours (`step.Omar`)."""
    out = []
    for j, u in enumerate(units):
        if j:
            gap = text[units[j - 1].end:u.start]
            out.append(gap if not gap.strip() else "\n" if "\n" in gap else " ")
        out.append(text[u.start:u.end])
    return "".join(out)


def prune_text(text: str, offsets: Sequence[tuple[int, int]], scores: Sequence[float], gamma: float) -> str:
    """Keep units until gamma of the trace's tokens (`offsets`: each token's character span) are kept:
    forced units (digits, equations) first, then the others by summed self-information (`scores`)."""
    if gamma >= 1.0:
        return text
    units = text_units(text)
    tokens = [0] * len(units)
    info = [0.0] * len(units)
    starts = [u.start for u in units]
    separators = 0  # whitespace-only tokens (line breaks): kept as separators
    for (a, b), sc in zip(offsets, scores):
        piece = text[a:b]
        if not piece.strip():
            separators += 1
            continue
        a += len(piece) - len(piece.lstrip())  # a token's unit is where its first visible character is
        k = max(0, bisect.bisect_right(starts, a) - 1)
        if k < len(units) and a < units[k].end:
            tokens[k] += 1
            info[k] += sc
    ranked = sorted(range(len(units)), key=lambda k: (not units[k].forced, -info[k]))
    target, kept, keep = math.ceil(gamma * len(offsets)), separators, set()
    for k in ranked:
        if kept >= target and not units[k].forced:
            break
        keep.add(k)
        kept += tokens[k]
    return join_units(text, [units[k] for k in sorted(keep)])


def tokenskip_examples(model, tokenizer, problems: Sequence[Problem], rollouts: Sequence[list[Rollout]],
                       gammas: Sequence[float] = TOKENSKIP_GAMMAS, seed: int = 0) -> list[Example]:
    """Every correct greedy trace, pruned to one gamma drawn per question, with gamma in the prompt (the plain
    prompt at 1.0)."""
    from brevity.methods.prompting import render_template

    rng = random.Random(f"tokenskip/{seed}")
    chosen = [(p, g[0]) for p, g in zip(problems, rollouts) if g[0].correct]
    prompt_ids = [tokenizer(prompt_text(p.question), add_special_tokens=False).input_ids for p, _ in chosen]
    texts = [tokenizer.decode(_strip_newline(r.thinking_ids, tokenizer), skip_special_tokens=False) for _, r in chosen]
    enc = tokenizer(texts, add_special_tokens=False, return_offsets_mapping=True)
    scores = self_information(model, tokenizer, prompt_ids, enc.input_ids)
    examples: list[Example] = []
    for (p, _), text, offsets, sc in zip(chosen, texts, enc.offset_mapping, scores):
        g = rng.choice(list(gammas))
        pruned = prune_text(text, offsets, sc, g)
        prompt = prompt_text(p.question) if g >= 1.0 else chat_text(render_template("tokenskip", p.question, gamma=g))
        examples.append((prompt, completion_text(pruned, p.answer)))
    return examples


def shortest_examples(tokenizer, problems: Sequence[Problem], rollouts: Sequence[list[Rollout]]) -> list[Example]:
    """The shortest correct trace of each question's K; questions with none correct are left out."""
    examples: list[Example] = []
    for p, group in zip(problems, rollouts):
        correct = [r for r in group if r.correct]
        if correct:
            best = min(correct, key=lambda r: (len(r.thinking_ids), r.sample))
            text = tokenizer.decode(_strip_newline(best.thinking_ids, tokenizer), skip_special_tokens=False)
            examples.append((prompt_text(p.question), completion_text(text, p.answer)))
    return examples


def _strip_newline(ids: Sequence[int], tokenizer) -> list[int]:
    """Thinking ids without the line break before `</think>` (completion_text puts it back)."""
    ids = list(ids)
    while ids and tokenizer.decode(ids[-1:]).endswith("\n") and not tokenizer.decode(ids[-1:]).strip():
        ids.pop()
    return ids

