"""Where is the refusal decided? A linear probe on the thinking's hidden states (`brevity explain --probe refusal`).

Chan et al. (arXiv 2507.12428) find that a linear probe on a reasoning model's activations predicts whether its
final answer will be safe, already from the chain's early segments, and better than a monitor that reads the text.
Here: the model thinks and answers each prompt greedily (`cot`); its answer is judged (`judge_refusal`: refused or
not); then, for each k, the residual stream after one block at the position that has read the prompt and the first k
thinking tokens is the feature. A logistic regression per k is fitted on the first half of the prompts and scored on
the second by AUROC. Beside it, the text monitor at the same k: whether the first k thinking tokens already say
the decision (`thinking_refusal`). A guard that must not cut thinking before the decision (the gateway's
`safety_floor`) reads where the probe's AUROC reaches its plateau.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from brevity.errors import BrevityError
from brevity.tasks import Problem
from brevity.tasks.refusal import judge_refusal, thinking_refusal

PROBES = ("refusal",)
KS = (0, 1, 2, 4, 8, 16, 32, 64, 128, 192, 256, 384)


@dataclass
class RefusalProbe:
    layer: int
    layers: int
    fit: int  # prompts the probes were fitted on
    held_out: int  # prompts AUROC is measured on
    refused: float  # share of all prompts the model refused
    ks: list[int]  # thinking tokens read
    auroc: list[float | None]  # the probe's, per k, on the held-out prompts (None: one class only there)
    text_auroc: list[float | None]  # the text monitor's (thinking_refusal on the first k tokens' text)
    median_thinking: float


def auroc(scores: list[float], labels: list[bool]) -> float | None:
    """The probability that a random positive scores above a random negative (ties count half)."""
    pos = [s for s, y in zip(scores, labels) if y]
    neg = [s for s, y in zip(scores, labels) if not y]
    if not pos or not neg:
        return None
    wins = sum((p > q) + 0.5 * (p == q) for p in pos for q in neg)
    return wins / (len(pos) * len(neg))


def _logistic(x: torch.Tensor, y: torch.Tensor, l2: float = 1e-2, steps: int = 300) -> tuple:
    """L2-regularised logistic regression on standardised features (LBFGS)."""
    mu, sd = x.mean(0), x.std(0) + 1e-6
    z = (x - mu) / sd
    w = torch.zeros(z.shape[1], dtype=torch.float64, requires_grad=True)
    b = torch.zeros((), dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], max_iter=steps, line_search_fn="strong_wolfe")
    zd, yd = z.double(), y.double()

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(zd @ w + b, yd) + l2 * (w * w).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return mu, sd, w.detach(), b.detach()


def _score(fit, x: torch.Tensor) -> list[float]:
    mu, sd, w, b = fit
    return (((x - mu) / sd).double() @ w + b).tolist()


@torch.no_grad()
def refusal_probe(engine, problems: list[Problem], layer: int = -1, ks: tuple[int, ...] = KS,
                  progress=None) -> RefusalProbe:
    """Run `cot` on `problems` (judged by refusal), then probe the thinking (see the module's docstring)."""
    from brevity.methods import build_method
    from brevity.methods.control import prompt_text

    if not problems or problems[0].metadata.get("answer_type") != "refusal":
        raise BrevityError("--probe refusal reads whether the model refuses: use a safety task "
                           "(safety-arith, xstest, safety-jsonl)")
    model = engine.model()
    n_layers = model.config.num_hidden_layers
    if not -n_layers <= layer < n_layers:
        raise BrevityError(f"--layer {layer} is out of range: the model has {n_layers} blocks (0 to {n_layers - 1}, "
                           "or -1 for the last)")
    layer %= n_layers
    cot = build_method("cot")
    sols = cot.run(problems, engine)
    fmt = engine.format
    feats, labels, texts, lengths = [], [], [], []
    for p, s in zip(problems, sols):
        prompt = fmt.encode(prompt_text(p, engine, cot.render))
        thought = fmt.encode(s.thinking)[: max(ks)]
        ids = torch.tensor([prompt + thought], device=model.device)
        hidden = model(input_ids=ids, output_hidden_states=True).hidden_states[layer + 1][0]
        at = [len(prompt) - 1 + min(k, len(thought)) for k in ks]
        feats.append(hidden[at].float().cpu())
        labels.append(judge_refusal(s.answer) != "full_compliance" if s.answer_tokens else False)
        texts.append([thinking_refusal(fmt.tokenizer.decode(thought[:k])) for k in ks])
        lengths.append(s.thinking_tokens)
        if progress:
            progress(1)
    x, y = torch.stack(feats), torch.tensor(labels)
    half = len(x) // 2
    if len(set(labels[:half])) < 2:
        raise BrevityError("the probe needs refused and answered prompts in its fitting half; give more --n")
    probe_auc, text_auc = [], []
    for j, _ in enumerate(ks):
        fit = _logistic(x[:half, j], y[:half])
        probe_auc.append(auroc(_score(fit, x[half:, j]), labels[half:]))
        text_auc.append(auroc([float(t[j]) for t in texts[half:]], labels[half:]))
    lengths.sort()
    return RefusalProbe(layer, n_layers, half, len(x) - half, sum(labels) / len(labels), list(ks), probe_auc,
                        text_auc, float(lengths[len(lengths) // 2]))
