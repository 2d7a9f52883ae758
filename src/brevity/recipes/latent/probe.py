"""Linear probes for values a model computes without writing them (`brevity explain --probe running-sums`).

A model that multiplies with no chain must still hold the running sums c_hat_k (brevity.tasks.mult.running_sums)
somewhere, digit by digit. The probe reads the residual stream after one block at the position that predicts
answer digit k, teacher-forced on the gold answer, and fits one ridge regression per k on half of the problems (its
penalty chosen on a fifth of that half); R squared on the other half says how much of c_hat_k is linearly there.
Products with 7 digits are left out: their c_hat_7 (0) is never written. The same probe on a plain answer-only model
is the comparison: Bai et al. (arXiv 2510.00184) find the sums decodable from the implicit-CoT model and not from
plain fine-tuning."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from brevity.errors import BrevityError
from brevity.tasks import Problem

PROBES = ("running-sums",)


@dataclass
class ProbeResult:
    layer: int  # the block whose output was read (0-based)
    layers: int  # blocks in the model
    fit: int  # problems the probes were fitted on
    held_out: int  # problems R squared is measured on
    r2: list[float]  # per answer digit k, on the held-out problems
    mae: list[float]  # mean absolute error of c_hat_k there, in the sums' own units


def _features(model, tokenizer, problems: list[Problem], layer: int) -> tuple[torch.Tensor, torch.Tensor]:
    """[problems, digits, width] hidden states at the positions that predict each digit; [problems, digits] sums."""
    from brevity.recipes.latent.aux import digit_positions
    from brevity.recipes.latent.data import latent_example

    xs, ys = [], []
    for p in problems:
        ex = latent_example(p, tokenizer, 10**9, 0, 0)
        ids = torch.tensor([ex.prefix + ex.rest], device=model.device)
        out = model(input_ids=ids, output_hidden_states=True)
        hidden = out.hidden_states[layer + 1][0]
        at = [len(ex.prefix) + pos - 1 for pos in digit_positions(p, tokenizer, ex.rest)]
        sums = p.metadata["running_sums"][:len(at)]
        if len(at) < len(p.metadata["running_sums"]):  # a 7-digit product: its c_hat_7 (0) is never written
            continue
        xs.append(hidden[at])
        ys.append(torch.tensor(sums, dtype=torch.float32))
    if len(xs) < 4:
        raise BrevityError("the probe needs at least 4 problems whose products have every digit")
    return torch.stack(xs).float(), torch.stack(ys)


ALPHAS = (1e-3, 1e-2, 0.1, 1.0, 10.0)


def _r2(gold: torch.Tensor, pred: torch.Tensor) -> float:
    total = ((gold - gold.mean()) ** 2).sum().item()
    return 1 - ((gold - pred) ** 2).sum().item() / total if total else float("nan")


def _predict(fit, x: torch.Tensor) -> torch.Tensor:
    mu, sd, w = fit
    return torch.cat([(x - mu) / sd, torch.ones(len(x), 1)], dim=1).double() @ w


def _fit(x: torch.Tensor, y: torch.Tensor) -> tuple:
    """Ridge with its penalty chosen on the last fifth of the fitting problems, then refitted on all of them."""
    cut = max(1, len(x) * 4 // 5)
    scores = {a: _r2(y[cut:].double(), _predict(_ridge(x[:cut], y[:cut], a), x[cut:])) for a in ALPHAS}
    best = max(ALPHAS, key=lambda a: -1e9 if scores[a] != scores[a] else scores[a])
    return _ridge(x, y, best)


def _ridge(x: torch.Tensor, y: torch.Tensor, alpha: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Ridge regression on centered features, the penalty relative to their mean variance (so one alpha grid fits
    every width and scale; no per-feature division, which blows up a feature nearly constant on the fitting half):
    (mean, scale, weights with a bias last)."""
    mu = x.mean(0)
    scale = x.std(0).mean() + 1e-8
    z = torch.cat([(x - mu) / scale, torch.ones(len(x), 1)], dim=1).double()
    reg = alpha * len(x) * torch.eye(z.shape[1], dtype=torch.float64) / z.shape[1]
    reg[-1, -1] = 0.0
    w = torch.linalg.solve(z.T @ z + reg, z.T @ y.double())
    return mu, scale, w


@torch.no_grad()
def running_sum_probe(model, tokenizer, problems: list[Problem], layer: int = -1) -> ProbeResult:
    """Fit on the first half of `problems`, measure on the second (see the module's docstring)."""
    if not problems or "running_sums" not in problems[0].metadata or problems[0].metadata.get("order") != "lsd":
        raise BrevityError("--probe running-sums reads mult's running sums: use --task mult:order=lsd")
    n_layers = model.config.num_hidden_layers
    if not -n_layers <= layer < n_layers:
        raise BrevityError(f"--layer {layer} is out of range: the model has {n_layers} blocks (0 to {n_layers - 1}, "
                           "or -1 for the last)")
    layer %= n_layers
    x, y = _features(model, tokenizer, problems, layer)
    half = len(x) // 2
    r2, mae = [], []
    for k in range(y.shape[1]):
        pred, gold = _predict(_fit(x[:half, k], y[:half, k]), x[half:, k]), y[half:, k].double()
        r2.append(_r2(gold, pred))
        mae.append((gold - pred).abs().mean().item())
    return ProbeResult(layer, n_layers, half, len(x) - half, r2, mae)
