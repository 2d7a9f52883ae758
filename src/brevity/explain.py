"""Reading latent thoughts back (`brevity explain`): for each thought position of a latent model, the
tokens its hidden state votes for through the LM head (the logit lens), its nearest input embeddings,
and the text the model writes when decoding greedily from that thought. A thought "decodes to a gold
intermediate" when the first number of that text before `</think>` (for `graph`: the first concept
named in the question's facts) is one of the problem's intermediate results, which every task keeps
in its metadata; the rate over thoughts is the measure, overall and per thought position.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

import torch

from brevity.methods.latent import (
    BOT,
    continue_with,
    continuous_thoughts,
    latent_manifest,
    left_pad,
    load_thought_input,
)
from brevity.tasks import Problem

FIRST_NUMBER = re.compile(r"-?\d+")
FIRST_WORD = re.compile(r"[A-Za-z]+")
CONCEPT = re.compile(r"\b(?:Every|a) ([a-z]+)")  # graph's facts: "Every X is a Y."
END_THINK = "</think>"


@dataclass
class ThoughtReading:
    position: int
    lens: list[tuple[str, float]]  # top tokens through the LM head, with probabilities
    nearest: list[tuple[str, float]]  # nearest input embeddings, with cosine similarities
    decoded: str  # greedy text continued from this thought
    value: str | None  # its first number (or word)
    gold: bool  # the value is one of the problem's intermediate results


@dataclass
class Explanation:
    problem_id: str
    question: str
    intermediates: list[str]
    thoughts: list[ThoughtReading] = field(default_factory=list)


def first_value(text: str, question: str, words: bool) -> str | None:
    """The first number (or concept of the question) the text states while still thinking."""
    text = text.split(END_THINK)[0]
    if not words:
        m = FIRST_NUMBER.search(text)
        return m.group(0) if m else None
    concepts = set(CONCEPT.findall(question))
    return next((w for w in FIRST_WORD.findall(text) if w in concepts), None)


@torch.no_grad()
def explain(engine, problems: list[Problem], n: int | None = None, top: int = 5, decode_tokens: int = 10,
            ) -> list[Explanation]:
    """Read every thought of every problem (`n`: thought count, default the model's manifest)."""
    from brevity.errors import BrevityError
    from brevity.methods.control import prompts

    model, tok = engine.model(), engine.tokenizer
    n = n if n is not None else latent_manifest(engine.model_path).get("thoughts")
    if not n:
        raise BrevityError(f"{engine.model_name} has no latent thoughts to read (its manifest says "
                           f"{n!r}); train one with brevity train coconut|codi|pause|pause-curriculum")
    thought_input = load_thought_input(engine)
    emb = model.get_input_embeddings().weight
    emb_n = emb / emb.norm(dim=-1, keepdim=True)
    bot = tok.convert_tokens_to_ids(BOT)
    prefixes = [list(p) + [bot] for p in prompts(problems, engine)]
    ids, mask = left_pad(prefixes, tok.pad_token_id, model.device)
    state = continuous_thoughts(model, ids, mask, n, **thought_input)
    out = [Explanation(p.id, p.question, [str(x) for x in p.metadata.get("intermediates", [])]) for p in problems]
    for pos, h in enumerate(state.thoughts):
        probs = model.lm_head(h).softmax(-1)
        lens_p, lens_i = probs.topk(top, dim=-1)
        cos_v, cos_i = (h / h.norm(dim=-1, keepdim=True) @ emb_n.T).topk(top, dim=-1)
        decoded = _decode_from(model, ids, mask, pos + 1, thought_input, probs.argmax(-1), decode_tokens)
        for r, p in enumerate(problems):
            words = p.metadata.get("answer_type") == "word"
            text = tok.decode(decoded[r])
            value = first_value(text, p.question, words)
            gold = value is not None and value.lower() in {g.lower() for g in out[r].intermediates}
            out[r].thoughts.append(ThoughtReading(
                pos, [(tok.decode([int(i)]), round(float(q), 3)) for i, q in zip(lens_i[r], lens_p[r])],
                [(tok.decode([int(i)]), round(float(c), 3)) for i, c in zip(cos_i[r], cos_v[r])], text, value, gold))
    return out


def _decode_from(model, ids, mask, upto: int, thought_input: dict, first: torch.Tensor, k: int) -> list[list[int]]:
    """Greedy tokens after the first `upto` thoughts, starting with the thought's own top token."""
    state = continuous_thoughts(model, ids, mask, upto, **thought_input)
    nxt = first[:, None]
    rows = [[int(t)] for t in first]
    for _ in range(k - 1):
        nxt = continue_with(model, state, nxt).logits[:, -1].argmax(-1, keepdim=True)
        for r, t in enumerate(nxt[:, 0].tolist()):
            rows[r].append(t)
    return rows


def decode_rates(explanations: list[Explanation]) -> dict:
    """Share of thoughts that decode to a gold intermediate, overall and per thought position."""
    n_pos = max((len(e.thoughts) for e in explanations), default=0)
    per = []
    for pos in range(n_pos):
        hits = [e.thoughts[pos].gold for e in explanations if len(e.thoughts) > pos]
        per.append(round(sum(hits) / len(hits), 4) if hits else None)
    allh = [t.gold for e in explanations for t in e.thoughts]
    return {"problems": len(explanations), "thoughts": len(allh),
            "decode_rate": round(sum(allh) / len(allh), 4) if allh else None, "per_position": per}


def to_json(explanations: list[Explanation], rates: dict, model: str, task: str) -> dict:
    return {"model": model, "task": task, "rates": rates, "examples": [asdict(e) for e in explanations]}
