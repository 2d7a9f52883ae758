"""The Solution record: the one currency between methods and the benchmark."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Solution:
    problem_id: str
    method: str  # canonical spec, parameters included
    model: str
    engine: str
    prediction: str | None  # the extracted final answer
    correct: bool
    thinking_tokens: int
    answer_tokens: int
    latent_steps: int = 0
    forward_passes: int = 0  # decode steps plus prefill calls the method made
    probe_tokens: int = 0  # tokens spent on probes (early-exit methods), not counted as thinking
    probe_seconds: float = 0.0
    first_answer_tokens: int | None = None  # thinking tokens up to the first mention of the gold answer
    finish_reason: str = ""
    latency_s: float | None = None  # set when the problem was run alone at batch 1
    prompt_tokens: int = 0  # the rendered prompt's length
    answer_truncated: bool = False  # thinking ended but the answer hit its token limit
    prompt: str | None = None  # the rendered prompt text (`brevity bench --log-prompts`)
    thinking: str = ""
    answer: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    # [start, end) character spans of `thinking + close` (the format's closing marker) that the method wrote, not
    # the model: a closing phrase, "Wait", a forced closing marker. A span at len(thinking) is the closing marker.
    injected: list[list[int]] = field(default_factory=list)
    # A served request's token log-probabilities (brevity.methods.control.TokenLogprobs), when it asked for
    # them; the response's, not the record's: to_dict leaves it out.
    logprobs: Any = field(default=None, compare=False, repr=False)

    @property
    def generated_positions(self) -> int:
        return self.thinking_tokens + self.answer_tokens + self.latent_steps

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("logprobs")
        d["generated_positions"] = self.generated_positions
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Solution:
        d = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        return cls(**d)
