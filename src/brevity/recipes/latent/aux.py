"""The running-sum auxiliary objective (`aux-sum`; Bai et al. 2025, arXiv 2510.00184, code `ajyl/icot`).

Answer-only training on `mult` (no chain, no thoughts) plus a linear regression from the model's own attention
heads to the running sums c_hat_k (brevity.tasks.mult.running_sums) at the positions of the answer's digits. The
heads' outputs before the output projection are read in one layer (the official checkpoint: the last of two),
one bias-free weight vector per head shared across the digit positions, as `ajyl/icot`'s `load_c_hat_model`
rebuilds them; the squared error is averaged over heads and positions and added to the cross-entropy with weight
`aux_weight`. The regression weights are a module of their own: the saved model is the plain HF folder, without
them, and decodes under every engine.

What the official code does not say (it holds no training script) and Brevity has to choose, each a setting:
the weight (lambda), which heads, the positions (the one that predicts digit k, or the one that reads it), and a
scale on the targets (the raw sums reach about 260, whose squared error dwarfs the cross-entropy at the start)."""

from __future__ import annotations

from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn

from brevity.errors import BrevityError
from brevity.tasks import Problem

AT = ("predict", "input")  # the position that predicts digit k (its output is c_k), or the one whose input is c_k


class RunningSumHead(nn.Module):
    """One bias-free linear read-out per chosen attention head (head_dim -> 1), shared across positions."""

    def __init__(self, heads: int, head_dim: int):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(heads, head_dim))
        nn.init.normal_(self.weight, std=0.02)

    def forward(self, per_head: torch.Tensor) -> torch.Tensor:
        """per_head [B, S, heads, head_dim] -> predictions [B, S, heads]."""
        return torch.einsum("bshd,hd->bsh", per_head, self.weight)


def attention_layer(model, layer: int):
    """The `layer`-th block's attention output projection (Llama, Qwen and their kin), checked."""
    layers = getattr(getattr(model, "model", None), "layers", None)
    if layers is None or not hasattr(layers[0], "self_attn") or not hasattr(layers[0].self_attn, "o_proj"):
        raise BrevityError("aux-sum reads attention heads before `self_attn.o_proj`; this model has no such layers")
    if not -len(layers) <= layer < len(layers):
        raise BrevityError(f"aux layer {layer} is out of range: the model has {len(layers)} layers "
                           f"(0 to {len(layers) - 1}, or -1 for the last)")
    return layers[layer].self_attn.o_proj


@contextmanager
def head_outputs(model, layer: int):
    """Within the block, `store["x"]` holds the last forward's per-head attention outputs of `layer`, before
    the output projection: [B, S, heads, head_dim]."""
    proj = attention_layer(model, layer)
    heads = model.config.num_attention_heads
    store: dict[str, torch.Tensor] = {}

    def hook(_module, args):
        x = args[0]
        store["x"] = x.view(*x.shape[:-1], heads, x.shape[-1] // heads)

    handle = proj.register_forward_pre_hook(hook)
    try:
        yield store
    finally:
        handle.remove()


def digit_positions(problem: Problem, tokenizer, rest: list[int]) -> list[int]:
    """Indices in `rest` of the answer's digits, c_0 first (the answer is written least significant digit
    first). Each digit must be a token of its own: the regression reads one position per digit."""
    if "running_sums" not in problem.metadata or problem.metadata.get("order") != "lsd":
        raise BrevityError("aux-sum needs running sums aligned with the answer's digits: use mult:order=lsd")
    answer = problem.answer
    texts = [tokenizer.decode([i]) for i in rest]
    for end in range(len(rest), len(answer) - 1, -1):
        window = texts[end - len(answer):end]
        if "".join(window) == answer and all(len(w) == 1 and w.isdigit() for w in window):
            return list(range(end - len(answer), end))
    raise BrevityError("aux-sum: the answer's digits are not one token each with this tokenizer")


def aux_targets(problems: list[Problem], tokenizer, rests: list[list[int]], at: str, scale: float,
                device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(rows, positions, targets): for every problem and answer digit k, the position in `rest` whose head
    outputs are regressed and c_hat_k / scale."""
    shift = -1 if at == "predict" else 0
    rows, cols, ys = [], [], []
    for r, (p, rest) in enumerate(zip(problems, rests)):
        sums = p.metadata["running_sums"]
        for k, pos in enumerate(digit_positions(p, tokenizer, rest)):
            rows.append(r)
            cols.append(pos + shift)
            ys.append(sums[k] / scale)
    return (torch.tensor(rows, device=device), torch.tensor(cols, device=device),
            torch.tensor(ys, dtype=torch.float32, device=device))


def aux_loss(per_head: torch.Tensor, head: RunningSumHead, heads: int, targets) -> torch.Tensor:
    """Mean squared error of the first `heads` heads' read-outs against the targets, over heads and digits."""
    rows, cols, ys = targets
    pred = head(per_head[rows, cols][:, None, :heads])[:, 0]  # [digits, heads]
    return F.mse_loss(pred, ys[:, None].expand_as(pred))
