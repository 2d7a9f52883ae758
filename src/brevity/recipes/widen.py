"""Widen a trained Llama-family model without changing what it computes (Net2Net-style, Chen et al. 2016).

Why: a latent curriculum starts from a model that writes its chain perfectly; when that model turns out to be
too narrow to internalize the chain, a wider one would otherwise have to learn the chain from scratch first.
Widening keeps every output the same at step 0 and gives the curriculum the extra width to use:

- the residual stream gets new dimensions that nothing writes yet (zero embedding columns, zero output rows of
  o_proj and down_proj) and that the layers read with small random weights, so gradients reach them;
- attention gets new heads of the same head size and grouping (random q/k/v rows, zero o_proj columns), the
  MLP new hidden units at the same ratio (random gate/up rows, zero down_proj columns);
- RMSNorm divides by the root mean square over all dimensions, so zero padding shrinks it by sqrt(d/D); each
  norm weight is scaled by sqrt(d/D) to cancel that, and epsilon by d/D.
"""

from __future__ import annotations

import math

import torch

from brevity.errors import BrevityError


def _grow(old: torch.Tensor, shape: tuple[int, ...], std: float, gen: torch.Generator,
          zero_rows: bool = False, zero_cols: bool = False) -> torch.Tensor:
    """`old` in the top-left corner of a new tensor of `shape`; the new rows/columns random (std) or zero."""
    new = torch.randn(shape, generator=gen, dtype=old.dtype) * std
    if zero_rows:
        new[old.shape[0]:] = 0
    if zero_cols and new.dim() == 2:
        new[:, old.shape[1]:] = 0
    new[tuple(slice(0, n) for n in old.shape)] = old
    return new


def check_width(cfg, hidden: int) -> tuple[int, int]:
    """(head size, query heads per key/value head) of a config that can be widened to `hidden`; a clear error
    otherwise (checked before any weights load)."""
    d, head = cfg.hidden_size, getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
    if cfg.model_type not in ("llama", "qwen2", "qwen3", "mistral"):
        raise BrevityError(f"widening supports Llama-family models, not {cfg.model_type!r}")
    if hidden <= d or hidden % head:
        raise BrevityError(f"--width must be larger than the base's hidden size {d} and a multiple of its head "
                           f"size {head}, got {hidden}")
    heads, group = hidden // head, cfg.num_attention_heads // cfg.num_key_value_heads
    if heads % group:  # query head i reads key/value head i // group: new heads come in whole groups
        raise BrevityError(f"--width must give a multiple of {group} heads (the base's query heads per key/value "
                           f"head), got {heads}")
    return head, group


def widen(model, hidden: int, seed: int = 0):
    """A new model of the same class with hidden size `hidden` (heads of the same size, MLP at the same ratio)
    whose logits equal `model`'s."""
    cfg = model.config
    d, (head, group) = cfg.hidden_size, check_width(cfg, hidden)
    heads = hidden // head
    inter = cfg.intermediate_size * hidden // d
    new_cfg = cfg.__class__.from_dict({**cfg.to_dict(), "hidden_size": hidden, "intermediate_size": inter,
                                       "num_attention_heads": heads, "num_key_value_heads": heads // group,
                                       "head_dim": head, "rms_norm_eps": cfg.rms_norm_eps * d / hidden})
    wide = model.__class__(new_cfg).to(next(model.parameters()).dtype)
    gen = torch.Generator().manual_seed(seed)
    std, scale = cfg.initializer_range, math.sqrt(d / hidden)
    new_state = {}
    for name, old in model.state_dict().items():
        shape = tuple(wide.state_dict()[name].shape)
        if shape == tuple(old.shape):  # per-head norms (Qwen3's q_norm, k_norm) keep their size
            new = old.clone()
        elif name.endswith("norm.weight"):  # RMSNorm over the residual stream: cancel the smaller mean square
            new = torch.full(shape, float(old.mean()), dtype=old.dtype)
            new[:d] = old
            new *= scale
        elif name.endswith(("o_proj.weight", "down_proj.weight")):  # writers: nothing new is written yet
            new = _grow(old, shape, std, gen, zero_rows=True, zero_cols=True)
        elif name.endswith(("embed_tokens.weight", "lm_head.weight")):  # new residual dimensions start at 0
            new = _grow(old, shape, std, gen, zero_cols=True)
        elif old.dim() == 2:  # readers (q, k, v, gate, up): new rows and columns random
            new = _grow(old, shape, std, gen)
        elif name.endswith("bias"):  # q/k/v biases (Qwen2): the new heads' start at 0
            new = _grow(old, shape, 0.0, gen)
        else:
            raise BrevityError(f"widening does not know the parameter {name} of shape {tuple(old.shape)}")
        new_state[name] = new
    wide.load_state_dict(new_state)
    if cfg.tie_word_embeddings:
        wide.tie_weights()
    return wide
