"""Continuous thoughts (Coconut, Hao et al. 2024): between `<bot>` and `<eot>` the model's last hidden
state is fed back as the next input embedding instead of a sampled token.

One function runs the thoughts for training and for decoding alike: the prefix (question, `<bot>`)
is prefilled once, then each thought is one single-position forward pass that attends to the KV
cache. Coconut's official code (facebookresearch/coconut at 27273cb, `coconut.py`) caches the thoughts' keys and
values too, but then re-runs the whole sequence without a cache for every answer token; `reforward_generate`
re-runs it for every thought and every answer token, a stricter reference than the official decoding, which the
cached path must agree with and beat (`benchmarks/coconut_kv.py` measures both).

Batches are left-padded, so positions come from the attention mask (`cumsum - 1`), not the column.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from brevity.manifest import read_manifest
from brevity.methods.base import Method, register
from brevity.methods.solution import Solution

BOT, EOT = "<bot>", "<eot>"


def left_pad(seqs: Sequence[Sequence[int]], pad_id: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(map(len, seqs))
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long, device=device)
    mask = torch.zeros((len(seqs), width), dtype=torch.long, device=device)
    for r, s in enumerate(seqs):
        if s:
            ids[r, width - len(s):] = torch.tensor(list(s), device=device)
            mask[r, width - len(s):] = 1
    return ids, mask


def _positions(mask: torch.Tensor, new: int) -> torch.Tensor:
    """Position ids of the last `new` columns of a (left-padded) mask."""
    return (mask.cumsum(-1) - 1).clamp(min=0)[:, -new:]


def make_projection(hidden: int) -> torch.nn.Module:
    """CODI's projection of a thought's hidden state into the next input embedding."""
    return torch.nn.Sequential(torch.nn.Linear(hidden, hidden), torch.nn.GELU(), torch.nn.Linear(hidden, hidden),
                               torch.nn.LayerNorm(hidden))


def load_thought_input(engine) -> dict:
    """How a latent model's thought positions are fed, from its manifest: {} (hidden state, Coconut),
    {"pause_id": id} (pause tokens) or {"project": module} (CODI's projection, saved beside the weights)."""
    kind = latent_manifest(engine.model_path).get("input", "hidden")
    if kind == "pause":
        return {"pause_id": engine.tokenizer.convert_tokens_to_ids("<pause>")}
    if kind == "projected":
        from pathlib import Path

        from safetensors.torch import load_file

        model = engine.model()
        project = make_projection(model.config.hidden_size)
        project.load_state_dict(load_file(str(Path(engine.model_path) / "codi_projection.safetensors")))
        return {"project": project.to(model.device).eval()}
    return {}


@dataclass
class ThoughtState:
    """What follows the thoughts needs: the KV cache, the mask so far, and the last hidden state."""

    cache: object
    mask: torch.Tensor
    last_hidden: torch.Tensor  # (batch, hidden)
    thoughts: list[torch.Tensor]  # each (batch, hidden): the continuous thoughts, for reading them back


def continuous_thoughts(model, ids: torch.Tensor, mask: torch.Tensor, n: int, pause_id: int | None = None,
                        project=None) -> ThoughtState:
    """Prefill `ids` (ending with `<bot>`), then n thought positions. Continuous thoughts (Coconut) feed
    the last hidden state back, through `project` if given (CODI's projection): one forward pass of one
    position each, on the KV cache. With `pause_id` the thoughts are `<pause>` tokens instead (Goyal et
    al.): ordinary inputs, so all of them go in the prefill. Differentiable: training backpropagates
    through the thought chain."""
    if pause_id is not None and n:
        ids = torch.cat([ids, ids.new_full((ids.shape[0], n), pause_id)], dim=1)
        mask = torch.cat([mask, mask.new_ones((mask.shape[0], n))], dim=1)
    out = model(input_ids=ids, attention_mask=mask, position_ids=_positions(mask, ids.shape[1]), use_cache=True,
                output_hidden_states=True)
    cache, h = out.cache, out.hidden_states[-1][:, -1]
    if pause_id is not None:
        last = out.hidden_states[-1][:, ids.shape[1] - n:] if n else h[:, None][:, :0]
        return ThoughtState(cache, mask, h, list(last.unbind(1)))
    thoughts = []
    for _ in range(n):
        mask = torch.cat([mask, mask.new_ones((mask.shape[0], 1))], dim=1)
        feed = project(h) if project is not None else h
        out = model(inputs_embeds=feed.unsqueeze(1), attention_mask=mask, position_ids=_positions(mask, 1),
                    cache=cache, use_cache=True, output_hidden_states=True)
        cache, h = out.cache, out.hidden_states[-1][:, -1]
        thoughts.append(h)
    return ThoughtState(cache, mask, h, thoughts)


def continue_with(model, state: ThoughtState, ids: torch.Tensor, ids_mask: torch.Tensor | None = None,
                  hidden: bool = False):
    """Run token ids after the thoughts on the cache (one forward); returns the model output (with every
    layer's hidden states if `hidden`). `ids_mask` marks right padding in `ids` (training batches)."""
    add = ids_mask if ids_mask is not None else torch.ones_like(ids)
    mask = torch.cat([state.mask, add], dim=1)
    out = model(input_ids=ids, attention_mask=mask, position_ids=_positions(mask, ids.shape[1]),
                cache=state.cache, use_cache=True, output_hidden_states=hidden)
    state.cache, state.mask = out.cache, mask
    return out


def _greedy_after_eot(next_logits, rows: int, eot_id: int, eos_id: int, max_new: int,
                      device) -> tuple[list[list[int]], int]:
    """Feed `<eot>`, then greedy tokens until every row has written EOS or max_new; `next_logits(ids)`
    runs the model on the newest token per row and returns the last position's logits."""
    nxt = torch.full((rows, 1), eot_id, dtype=torch.long, device=device)
    out_ids: list[list[int]] = [[] for _ in range(rows)]
    done = [False] * rows
    steps = 0
    for _ in range(max_new):
        nxt = next_logits(nxt).argmax(-1, keepdim=True)
        steps += 1
        for r, t in enumerate(nxt[:, 0].tolist()):
            if not done[r]:
                out_ids[r].append(t)
                done[r] = t == eos_id
        if all(done):
            break
    return out_ids, steps


# inference_mode rather than no_grad: a batch-1 step is a few dozen tiny ops, and skipping autograd's
# version counters and view tracking on them is what makes the cached path measurably faster on CPU.
@torch.inference_mode()
def cached_generate(model, prefixes: Sequence[Sequence[int]], n: int, eot_id: int, eos_id: int, pad_id: int,
                    max_new: int, **thought_input) -> tuple[list[list[int]], int]:
    """Greedy decoding after n thoughts, on the KV cache: prefix, thoughts, `<eot>`, then tokens until EOS.
    `thought_input` is `continuous_thoughts`' pause_id or project. Returns the generated token ids per
    row and the number of forward passes."""
    ids, mask = left_pad(prefixes, pad_id, model.device)
    state = continuous_thoughts(model, ids, mask, n, **thought_input)
    out_ids, steps = _greedy_after_eot(lambda nxt: continue_with(model, state, nxt).logits[:, -1], len(prefixes),
                                       eot_id, eos_id, max_new, model.device)
    return out_ids, 1 + n + steps


@torch.inference_mode()
def reforward_generate(model, prefixes: Sequence[Sequence[int]], n: int, eot_id: int, eos_id: int, pad_id: int,
                       max_new: int, **thought_input) -> tuple[list[list[int]], int]:
    """Decoding with no cache at all: the whole sequence of input embeddings re-run for every thought and every
    new token (the official code re-runs it for every answer token; its thoughts use a cache). The reference for
    `cached_generate`."""
    ids, mask = left_pad(prefixes, pad_id, model.device)
    emb = model.get_input_embeddings()
    ones = mask.new_ones((len(prefixes), 1))

    def forward(embeds, mask):
        return model(inputs_embeds=embeds, attention_mask=mask, position_ids=_positions(mask, mask.shape[1]),
                     output_hidden_states=True, use_cache=False)

    seq = [emb(ids), mask]
    pause_id, project = thought_input.get("pause_id"), thought_input.get("project")
    for _ in range(n):
        if pause_id is not None:
            h = emb(ids.new_full((len(prefixes), 1), pause_id))
        else:
            h = forward(*seq).hidden_states[-1][:, -1:]
            h = project(h) if project is not None else h
        seq = [torch.cat([seq[0], h], dim=1), torch.cat([seq[1], ones], dim=1)]

    def next_logits(nxt):
        seq[0], seq[1] = torch.cat([seq[0], emb(nxt)], dim=1), torch.cat([seq[1], ones], dim=1)
        return forward(*seq).logits[:, -1]

    out_ids, steps = _greedy_after_eot(next_logits, len(prefixes), eot_id, eos_id, max_new, model.device)
    return out_ids, n + steps


# The method ---------------------------------------------------------------------------------------

def latent_manifest(model_path) -> dict:
    """The `latent` block a latent recipe writes into the model's manifest (method, thoughts)."""
    return read_manifest(model_path).get("latent", {})


def decoders(model_path) -> tuple[str, ...] | None:
    """The methods that can decode a model, from its manifest: a latent model (a `latent` block: its chain lives in
    thoughts on the KV cache, not in text) only `coconut`; None (any method) for every other model."""
    return ("coconut",) if latent_manifest(model_path) else None


@register
@dataclass(frozen=True)
class Coconut(Method):
    """Decode a Coconut model: n continuous thoughts on the KV cache, `<eot>`, then the answer. The
    thoughts count as generated positions (as in Coconut's paper), not as thinking tokens."""

    name = "coconut"
    positional = "thoughts"
    thoughts: int = -1  # -1: the number the model was trained with (its manifest)
    reforward: bool = False  # decode with no KV cache at all (stricter than the official code): the reference

    def solve(self, problems, ctx) -> list[Solution]:
        from brevity.errors import BrevityError
        from brevity.methods.control import prompts, refuse_decoding

        refuse_decoding(problems, self.name)
        engine = ctx.engine
        model, tok = engine.model(), engine.tokenizer
        n = self.thoughts if self.thoughts >= 0 else latent_manifest(engine.model_path).get("thoughts")
        if n is None:
            raise BrevityError(f"{engine.model_name} has no latent thought count in its manifest; give coconut:N")
        bot, eot = tok.convert_tokens_to_ids([BOT, EOT])
        prefixes = [list(p) + [bot] for p in prompts(problems, engine)]
        run = reforward_generate if self.reforward else cached_generate
        thought_input = load_thought_input(engine)
        out = []
        bs = getattr(engine, "batch_size", 32)
        for i in range(0, len(problems), bs):
            gen, _ = run(model, prefixes[i:i + bs], n, eot, tok.eos_token_id, tok.pad_token_id, self.max_tokens,
                         **thought_input)
            for prob, prefix, ids in zip(problems[i:i + bs], prefixes[i:i + bs], gen):
                s = engine.format.split(ids)
                sol = self.make_solution(prob, ctx, s.thinking_ids, s.answer_ids,
                                         "stop" if ids and ids[-1] == tok.eos_token_id else "length",
                                         forward_passes=1 + n + len(ids), prompt_ids=prefix, closed=s.closed)
                sol.latent_steps = n
                out.append(sol)
            if ctx.progress:
                ctx.progress(len(gen))
        return out
