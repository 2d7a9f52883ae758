"""RouteLLM-style trained router: logistic regression on the fast model's hidden states of the question,
predicting whether the strong model is needed. Saved as JSON (weights as numbers, never a pickle)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from brevity.engines.base import Engine
from brevity.methods.control import prompts
from brevity.tasks import Problem


def question_features(engine: Engine, problems: Sequence[Problem], batch_size: int = 64) -> np.ndarray:
    """The fast model's last-layer state at the prompt's last token and its mean over the prompt: one
    prefill per question, no generation. Needs the network itself (the hf engine)."""
    import torch

    model = engine.model()
    pad = engine.tokenizer.pad_token_id or 0
    feats = []
    ids = prompts(problems, engine)
    for start in range(0, len(ids), batch_size):
        chunk = ids[start:start + batch_size]
        width = max(map(len, chunk))
        x = torch.tensor([[pad] * (width - len(c)) + list(c) for c in chunk], device=model.device)
        mask = torch.tensor([[0] * (width - len(c)) + [1] * len(c) for c in chunk], device=model.device)
        with torch.no_grad():
            h = model(input_ids=x, attention_mask=mask, output_hidden_states=True).hidden_states[-1]
        m = mask.unsqueeze(-1).to(h.dtype)
        mean = (h * m).sum(1) / m.sum(1)
        feats.append(torch.cat([h[:, -1], mean], dim=-1).float().cpu().numpy())
    return np.concatenate(feats)


@dataclass
class Router:
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float

    @classmethod
    def fit(cls, x: np.ndarray, needs_strong: Sequence[bool], c: float = 1.0, seed: int = 0) -> Router:
        from sklearn.linear_model import LogisticRegression
        from sklearn.preprocessing import StandardScaler

        y = np.asarray(needs_strong, dtype=int)
        scaler = StandardScaler().fit(x)
        if y.min() == y.max():  # one class only: a constant router
            return cls(scaler.mean_, scaler.scale_, np.zeros(x.shape[1]), 10.0 if y[0] else -10.0)
        lr = LogisticRegression(C=c, max_iter=2000, class_weight="balanced", random_state=seed)
        lr.fit(scaler.transform(x), y)
        return cls(scaler.mean_, scaler.scale_, lr.coef_[0], float(lr.intercept_[0]))

    def score(self, x: np.ndarray) -> np.ndarray:
        """Probability that the strong model is needed."""
        z = ((x - self.mean) / self.scale) @ self.coef + self.intercept
        return 1.0 / (1.0 + np.exp(-z))

    def as_dict(self) -> dict:
        return {"mean": self.mean.tolist(), "scale": self.scale.tolist(), "coef": self.coef.tolist(),
                "intercept": self.intercept}

    @classmethod
    def from_dict(cls, d: dict) -> Router:
        return cls(np.array(d["mean"]), np.array(d["scale"]), np.array(d["coef"]), float(d["intercept"]))

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.as_dict()))

    @classmethod
    def load(cls, path: Path) -> Router:
        return cls.from_dict(json.loads(path.read_text()))
