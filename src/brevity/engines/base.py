"""The engine protocol. Its primitive is "continue these prefixes": token ids or text in; new token
ids, text, per-token logprobs and a finish reason out. Methods talk only to this protocol."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from brevity.errors import BrevityError

SAMPLING_EPS = 1e-5


@dataclass(frozen=True)
class Shaping:
    """vLLM's sampling extensions, with vLLM's semantics (brevity.serve.vllm_fields); one record that a served
    request, its decoding settings and each engine call carry. min_p applies after the temperature;
    repetition_penalty over prompt and output, presence/frequency penalties over the output; ignore_eos writes
    on past an eos id (kept in the token ids; the answer text skips it as a special token); min_tokens bans eos
    and stop_token_ids before that many new tokens; stop_token_ids end the row (the id is kept, as an eos is);
    allowed_token_ids restricts every step; bad_words bans the last token of each word's tokens (with and
    without a leading space, as vLLM tokenizes them) where the tokens before it were just generated."""

    min_p: float = 0.0
    repetition_penalty: float = 1.0
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    ignore_eos: bool = False
    min_tokens: int = 0
    stop_token_ids: tuple[int, ...] = ()
    allowed_token_ids: tuple[int, ...] | None = None
    bad_words: tuple[str, ...] = ()


NO_SHAPING = Shaping()


@dataclass(frozen=True)
class Request:
    """One prefix to continue. `prompt` is text or token ids (ids make counts and cache hits exact)."""

    prompt: str | tuple[int, ...]
    max_tokens: int
    stop: tuple[str, ...] = ()
    # Sampling, per request (rows with different settings share a batch): temperature 0 is greedy; `seed`
    # makes a sampled request repeatable, alone or batched with others (None: a fresh random seed).
    temperature: float = 0.0
    top_p: float = 1.0
    top_k: int = 0  # 0: off
    seed: int | None = None
    logprobs: bool = False
    top_logprobs: int = 0  # this many most likely tokens per position, with their log-probabilities
    logit_bias: tuple[tuple[int, float], ...] = ()  # (token id, bias); -100 bans a token, as in OpenAI's API
    shaping: Shaping = NO_SHAPING  # vLLM's sampling extensions for this call
    # Stop strings that stay in the text when they end it (vLLM's include_stop_str_in_output, for the client's
    # own stop strings); they go to Completion.stop_tail, after what a straddling token wrote before them.
    keep_stop: tuple[str, ...] = ()
    # The server's own thinking cap (vLLM's `thinking_token_budget`): thinking tokens before it forces its
    # configured end string. Engines without one raise EngineCapabilityError.
    thinking_budget: int | None = None
    # The KV-cache policy the decode runs under (brevity.engines.kv_policy.KVPolicy; None: the engine's own,
    # `full` unless configured). Only the hf engine evicts; others refuse any but `full`.
    kv: Any = None
    # False: no later request continues this sequence (a probe), so a prefix-caching engine need not keep
    # its KV. A hint, not a setting; servers with automatic prefix caching ignore it.
    keep_cache: bool = field(default=True, compare=False)
    # Where the text goes as it is generated, and who can cancel it (engines/streaming.py); not a setting.
    sink: Any = field(default=None, compare=False, repr=False)

    @property
    def shaped(self) -> bool:
        """Whether anything but temperature, top-p and top-k changes this row's logits or its end."""
        return self.shaping != NO_SHAPING

    @property
    def sampled(self) -> bool:
        """Below vLLM's sampling epsilon (1e-5) a temperature decodes greedily, as in vLLM: dividing the
        logits by 1e-181 overflows them to inf, and the softmax to nan."""
        return self.temperature >= SAMPLING_EPS

    def decode_key(self) -> tuple:
        """Requests with equal keys can share one batched generate call (sampling and logprobs are per row)."""
        return (self.max_tokens, self.stop, self.logit_bias, self.thinking_budget, self.kv)


@dataclass
class Completion:
    prompt_ids: list[int]
    token_ids: list[int]
    text: str
    finish_reason: str  # "stop" (EOS or a stop string) or "length"
    stop_reason: str | None = None  # the stop string that ended it, if any
    logprobs: list[float] | None = None  # the model's log-probability of each token (before temperature)
    top_logprobs: list[list[tuple[int, float]]] | None = None  # per token: the most likely (id, logprob)
    cached_tokens: int = 0  # prompt tokens served from the prefix cache
    extra: dict[str, Any] = field(default_factory=dict)
    # What a token straddling the stop string wrote before it (Qwen's `.\n\n` under `stop: "\n"`: the `.`). The
    # token is not in token_ids (it carries the stop string's start) nor in text, which spells the ids; a served
    # answer ends with it, as vLLM's text does.
    stop_tail: str = ""


ProgressFn = Callable[[int], None]


class Engine(Protocol):
    name: str
    model_name: str
    tokenizer: Any
    format: Any  # the model's brevity.formats.ModelFormat: markers, stop ids, rendering
    # How many `complete` calls may run at once from different threads: 1 for an engine that decodes one batch
    # at a time in-process (hf); more for one whose server batches continuously (openai), so that a request
    # that arrives mid-batch starts at once instead of waiting for the batch to end.
    parallel_calls: int

    def complete(self, requests: list[Request], progress: ProgressFn | None = None) -> list[Completion]: ...

    def model(self) -> Any:
        """The torch module, for methods that need the network itself (latent thoughts)."""
        ...


class EngineCapabilityError(BrevityError):
    """A method asked an engine for something it cannot do (e.g. hidden states over HTTP)."""


def apply_stop(text: str, stops: tuple[str, ...]) -> tuple[str, str | None]:
    """Cut text at the earliest stop string; OpenAI servers leave the stop string out, and so do we."""
    best, which = len(text), None
    for s in stops:
        i = text.find(s)
        if i != -1 and i < best:
            best, which = i, s
    return text[:best], which


def finish_row(toks: list[int], stop_ids, stops: tuple[str, ...], decode, keep_stop: tuple[str, ...] = ()
               ) -> tuple[list[int], str, str, str | None, str]:
    """A generated row as a Completion's (token ids, text, finish reason, stop reason, stop tail): cut after the
    first stop id, then at the earliest stop string, with the ids cut to match the text (a token straddling the
    stop string goes; what it wrote before the stop string is the tail, and a stop string in `keep_stop` follows
    it)."""
    n, finish = len(toks), "length"
    for j, t in enumerate(toks):
        if t in stop_ids:
            n, finish = j + 1, "stop"
            break
    toks = toks[:n]
    body = toks[:-1] if finish == "stop" else toks
    text = decode(body)
    if stops:
        cut, which = apply_stop(text, stops)
        if which is not None:
            keep = 0
            while keep < len(body) and cut.startswith(decode(body[:keep + 1])):
                keep += 1
            kept = decode(body[:keep])
            return body[:keep], kept, "stop", which, cut[len(kept):] + (which if which in keep_stop else "")
    return toks, text, finish, None, ""
