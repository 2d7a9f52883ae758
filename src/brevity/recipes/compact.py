"""Fine-tuning on compact chains, from the model's own correct traces (recipes/rollouts.py).

- `tokenskip` (Xia et al. 2025): score every thinking token, drop the least important ones down to a
  ratio gamma, and fine-tune with gamma in the prompt (template `tokenskip` of prompts.toml), so the
  user picks gamma at inference. The original scores tokens with LLMLingua-2, a trained classifier we
  cannot download; here a word's importance is its self-information under the model itself (the
  summed -log p of its tokens, as in Selective Context), one forward pass per trace.
  Self-information alone keeps the wrong words on these traces (docs/RESULTS.md, "TokenSkip"), so where
  a problem carries its compressed chain (arith's equations, as GSM8K-Aug carries GPT-4's) the words
  that chain aligns to rank first (`aligned_words`): the compression LLMLingua-2 learns to imitate,
  used directly on the training traces; self-information orders the rest.
- `shortest` (Munkhbat et al. 2025; Kimi k1.5's shortest rejection sampling): keep the shortest
  correct of K sampled traces per question and fine-tune on those, with the plain prompt. Munkhbat et
  al. condition the sampler (few-shot concise exemplars) because plain samples are rarely shorter; a
  member's `conditions` add one candidate per method spec (e.g. `tale-ep`), from its `sampler`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from brevity.recipes.rollouts import Rollout
from brevity.recipes.sft import Example
from brevity.tasks import Problem
from brevity.zoo.chat import chat_text, completion_text, prompt_text

TOKENSKIP_GAMMAS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)


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


def word_units(pieces: Sequence[str]) -> list[list[int]]:
    """Group token positions into words: a piece that starts with whitespace, or a line break, opens a
    new unit; digits and word pieces glue onto the unit before them, so numbers are kept or dropped whole."""
    units: list[list[int]] = []
    for j, piece in enumerate(pieces):
        opens = not units or piece[:1].isspace() or pieces[j - 1].endswith("\n")
        if opens:
            units.append([j])
        else:
            units[-1].append(j)
    return units


def prune(ids: Sequence[int], scores: Sequence[float], pieces: Sequence[str], gamma: float) -> list[int]:
    """Keep the most informative words until gamma of the tokens are kept, in their original order."""
    if gamma >= 1.0:
        return list(ids)
    units = word_units(pieces)
    ranked = sorted(range(len(units)), key=lambda u: -sum(scores[j] for j in units[u]))
    target, kept, keep = math.ceil(gamma * len(ids)), 0, set()
    for u in ranked:
        if kept >= target:
            break
        keep.add(u)
        kept += len(units[u])
    return [ids[j] for u in sorted(keep) for j in units[u]]


def aligned_words(words: Sequence[str], equations: Sequence[str]) -> list[bool]:
    """Per word: does the compressed chain align to it? Each equation aligns, in order, to its first
    occurrence after the previous one, once, as LLMLingua-2 labels its training text from a compression;
    the re-checks' copies are not aligned."""
    norm = [w.strip().rstrip(".,") for w in words]
    keep = [False] * len(words)
    after = 0
    for eq in equations:
        parts = eq.split()
        k = next((k for k in range(after, len(norm) - len(parts) + 1) if norm[k:k + len(parts)] == parts), None)
        if k is not None:
            keep[k:k + len(parts)] = [True] * len(parts)
            after = k + len(parts)
    return keep


def guided_scores(scores: Sequence[float], pieces: Sequence[str], equations: Sequence[str]) -> list[float]:
    """Token scores that rank the words the chain aligns to first, then the rest by summed self-information."""
    units = word_units(pieces)
    keep = aligned_words(["".join(pieces[j] for j in u) for u in units], equations)
    top = sum(scores) + 1.0  # above any word's self-information
    out = list(scores)
    for u, k in zip(units, keep):
        if k:
            out[u[0]] += top  # once per word, on its first token (prune sums a word's tokens)
    return out


def tokenskip_examples(model, tokenizer, problems: Sequence[Problem], rollouts: Sequence[list[Rollout]],
                       gammas: Sequence[float] = TOKENSKIP_GAMMAS, guide: bool = True) -> list[Example]:
    """Every correct greedy trace, pruned to every gamma, with gamma in the prompt; `guide` ranks the
    words the problem's equations align to first (`aligned_words`)."""
    from brevity.methods.prompting import render_template

    chosen = [(p, g[0]) for p, g in zip(problems, rollouts) if g[0].correct]
    prompt_ids = [tokenizer(prompt_text(p.question), add_special_tokens=False).input_ids for p, _ in chosen]
    traces = [_strip_newline(r.thinking_ids, tokenizer) for _, r in chosen]
    scores = self_information(model, tokenizer, prompt_ids, traces)
    examples: list[Example] = []
    for (p, _), ids, sc in zip(chosen, traces, scores):
        pieces = [tokenizer.decode([t], skip_special_tokens=False) for t in ids]
        if guide and p.metadata.get("equations"):
            sc = guided_scores(sc, pieces, p.metadata["equations"])
        for g in gammas:
            text = tokenizer.decode(prune(ids, sc, pieces, g), skip_special_tokens=False)
            prompt = chat_text(render_template("tokenskip", p.question, gamma=g))
            examples.append((prompt, completion_text(text, p.answer)))
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

