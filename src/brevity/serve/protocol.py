"""The OpenAI wire format `brevity serve` speaks, with every common reasoning-control shape.

This module is the single list of what a request may carry. Reasoning control arrives in many shapes
(all optional, in the request body; the openai client passes the non-OpenAI ones as `extra_body`):
- Brevity's `thinking_budget` (also Qwen's), vLLM's `thinking_token_budget`: most thinking tokens, enforced;
  thinking then closes and the model answers. 0 skips thinking.
- OpenAI's `reasoning_effort` (none, minimal, low, medium, high, xhigh), mapped to a budget per model by
  the server config; the Responses API's and OpenRouter's `reasoning: {effort | max_tokens, exclude, enabled}`.
- Anthropic's `thinking: {type: "enabled", budget_tokens}` / `{type: "disabled"}`.
- Gemini's `thinking_config` / `thinkingConfig`: `{thinking_budget, include_thoughts}` (camelCase too;
  budget 0 off, -1 dynamic = no cap) and `thinking_level`.
- vLLM's `chat_template_kwargs.enable_thinking`, Qwen's top-level `enable_thinking`, Ollama's `think`
  (true, false, or "low"/"medium"/"high").
- Brevity's `early_exit`: `"deer"`, `"dynasor"` or `"none"`, or `{"method": "deer", "threshold": 0.9}`.
Each request is normalised into one `Control` (thinking on/off, budget, effort, early exit, hidden
reasoning, sampling) and the gateway reads only that. Two fields that disagree are a 400 naming both.

Fields of OpenAI's Chat Completions and Completions request schemas that carry no behaviour here are
accepted; those that would change the output and are not implemented are a 400 (`unsupported_parameter`)
unless they hold their default value; fields in no schema are reported by `unknown_fields()` (the server
refuses them, or ignores them when its config says so).

Responses carry the reasoning as `reasoning_content` (DeepSeek, vLLM) and `reasoning` (vLLM's newer
field), and `usage.completion_tokens_details.reasoning_tokens`, counted as the bench counts thinking.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator
from pydantic_core import PydanticCustomError

from brevity.engines.base import NO_SHAPING, Shaping
from brevity.errors import BrevityError
from brevity.methods.solution import Solution
from brevity.serve.stream import response_parts
from brevity.serve.vllm_fields import REFUSED
from brevity.serve.vllm_fields import default as vllm_default

Effort = Literal["none", "minimal", "low", "medium", "high", "xhigh"]
DYNAMIC = "dynamic"  # a budget claim of "no cap" (Gemini's thinking_budget -1)


def param_error(code: str, message: str, param: str) -> PydanticCustomError:
    """A validation error the HTTP side turns into a 400 with this `param` and `code`."""
    return PydanticCustomError(code, "{message}", {"message": message, "param": param})


# Request parts ------------------------------------------------------------------------------------
class EarlyExitOptions(BaseModel):
    """An early-exit method and its parameters (the method's own, e.g. deer's threshold)."""

    model_config = ConfigDict(extra="allow")
    method: Literal["deer", "dynasor", "none"]


class Strict(BaseModel):
    """A nested object of a known shape: a key it does not have is an error (`unknown_parameter`)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class ReasoningOptions(Strict):
    """The Responses API's and OpenRouter's `reasoning` object."""

    effort: Effort | None = None
    max_tokens: int | None = Field(None, ge=0, description="OpenRouter: most thinking tokens.")
    exclude: bool | None = Field(None, description="OpenRouter: true hides the reasoning (usage unchanged).")
    enabled: bool | None = None


class AnthropicThinking(Strict):
    type: Literal["enabled", "disabled"]
    budget_tokens: int | None = Field(None, ge=1)


class GeminiThinking(Strict):
    """Gemini's thinking_config; snake_case or camelCase keys."""

    thinking_budget: int | None = Field(None, ge=-1, alias="thinkingBudget",
                                        description="0 turns thinking off; -1 lets the model decide (no cap).")
    include_thoughts: bool | None = Field(None, alias="includeThoughts",
                                          description="false hides the reasoning (usage unchanged).")
    thinking_level: Literal["minimal", "low", "medium", "high"] | None = Field(None, alias="thinkingLevel")


class StreamOptions(Strict):
    include_usage: bool | None = Field(None, description="A final chunk with the usage.")
    include_obfuscation: bool | None = None  # OpenAI's padding of stream chunks; nothing to obfuscate here
    continuous_usage_stats: Literal[False] | None = None  # vLLM's; only off


# The canonical view -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Sampling:
    """How to pick tokens. None: the model's own settings (its generation_config.json, greedy without one)."""

    temperature: float | None = None
    top_p: float | None = None
    seed: int | None = None
    stop: tuple[str, ...] = ()
    logprobs: bool = False
    top_logprobs: int = 0
    # vLLM's extensions (serve/vllm_fields.py); top_k None: unset (the model's own top_k then)
    top_k: int | None = None
    shaping: Shaping = NO_SHAPING
    include_stop_str_in_output: bool = False
    skip_special_tokens: bool = True  # vLLM's: the answer text leaves out special tokens
    kv: Any = None  # Brevity's `kv_cache`: the KV-cache policy (engines/kv_policy.py); None: the model's own


@dataclass(frozen=True)
class Control:
    """What a request asks of the reasoning, whatever shape it came in. `fields` names the request field
    behind each facet (for errors)."""

    thinking: bool | None = None  # False: off; True: asked for; None: the model's default
    budget: int | None = None  # most thinking tokens (None: no cap from the request)
    effort: Effort | None = None
    early_exit: str | None = None
    early_exit_params: dict[str, Any] = field(default_factory=dict)
    hide_reasoning: bool = False
    max_tokens: int | None = None
    template_kwargs: dict[str, Any] = field(default_factory=dict)  # for the chat template, switch removed
    sampling: Sampling = field(default_factory=Sampling)
    fields: dict[str, str] = field(default_factory=dict)

    def asks(self) -> list[str]:
        """The request fields that steer thinking (a route decides that itself)."""
        return [f for k, f in self.fields.items() if k in ("thinking", "budget", "effort", "early_exit")]


def _agree(claims: list[tuple[str, str, Any]]) -> dict[str, tuple[Any, str]]:
    """One value per facet from (field, facet, value) claims; two fields that disagree are an error."""
    out: dict[str, tuple[Any, str]] = {}
    for name, facet, value in claims:
        if facet in out and out[facet][0] != value:
            first = out[facet][1]
            raise param_error("conflicting_parameters", f"{first} and {name} disagree ({facet}: "
                                                        f"{out[facet][0]!r} vs {value!r}); send one of them", first)
        out.setdefault(facet, (value, name))
    return out


# Requests ---------------------------------------------------------------------------------------
def _default(value: Any, *defaults: Any) -> bool:
    return value is None or any(value == d for d in defaults)


class Extensions(BaseModel):
    """What both endpoints take: the shared OpenAI fields and every reasoning-control shape."""

    model_config = ConfigDict(extra="allow")  # unknown keys are kept so the server can name them
    model: str = Field(description="A served model, or an alias naming a route such as route:cascade.")
    max_tokens: int | None = Field(None, ge=1, description="Most generated tokens, thinking included.")
    max_completion_tokens: int | None = Field(None, ge=1, description="OpenAI's newer name for max_tokens.")
    stream: bool | None = False
    stream_options: StreamOptions | None = None
    n: int | None = Field(None, ge=1, description="Choices per prompt: only 1.")
    # Sampling
    temperature: float | None = Field(None, ge=0, le=2, description="Sampling temperature (0: greedy). "
                                                                    "Default: the model's generation_config.")
    top_p: float | None = Field(None, gt=0, le=1)
    seed: int | None = Field(None, ge=-(2 ** 63), lt=2 ** 64)
    stop: str | list[str] | None = Field(None, description="Up to 4 stop strings; the text ends before them.")
    # Accepted, no behaviour here, or refused when set to anything but their default
    user: str | None = None
    metadata: dict[str, str] | None = None
    store: bool | None = None
    service_tier: str | None = None
    prompt_cache_key: str | None = None
    safety_identifier: str | None = None
    frequency_penalty: float | None = Field(None, ge=-2, le=2, description="Lowers a token's logit by this times "
                                                                          "its count in the output.")
    presence_penalty: float | None = Field(None, ge=-2, le=2, description="Lowers the logit of every token already "
                                                                         "in the output by this.")
    logit_bias: dict[str, float] | None = Field(None, description="Only empty.")
    # vLLM's sampling extensions (serve/vllm_fields.py), with vLLM's bounds
    top_k: int | None = Field(None, ge=-1, description="vLLM: sample from the k most likely tokens (-1, 0: all).")
    min_p: float | None = Field(None, ge=0, le=1, description="vLLM: drop tokens below min_p times the top one's "
                                                              "probability.")
    repetition_penalty: float | None = Field(None, gt=0, allow_inf_nan=False,
                                             description="vLLM: >1 discourages tokens of the prompt and output.")
    ignore_eos: bool | None = Field(None, description="vLLM: never stop at an end-of-sequence token.")
    min_tokens: int | None = Field(None, ge=0, description="vLLM: no end-of-sequence or stop id before this many "
                                                           "tokens.")
    stop_token_ids: list[int] | None = Field(None, description="vLLM: token ids that end the output.")
    allowed_token_ids: list[int] | None = Field(None, description="vLLM: generate only these token ids.")
    include_stop_str_in_output: bool | None = Field(None, description="vLLM: the stop string that ends the answer "
                                                                      "stays in it.")
    bad_words: list[str] | None = Field(None, description="vLLM: words the output never spells with its own "
                                                          "tokens (each word's last token is banned after the rest).")
    skip_special_tokens: bool | None = Field(None, description="vLLM: false keeps special tokens in the answer text.")
    include_reasoning: bool | None = Field(None, description="vLLM: false leaves the reasoning out of the "
                                                             "response (usage unchanged).")
    request_id: str | None = Field(None, description="vLLM: accepted; no effect.")
    session_id: str | None = Field(None, description="vLLM: accepted; no effect.")
    # Memory
    kv_cache: str | None = Field(None, description="Brevity: the KV-cache policy the request decodes under, e.g. "
                                                   "\"rkv:budget=64\" or \"full\" (hf backend); default: the "
                                                   "model's kv_cache.")
    # Reasoning control, in every shape (see the module's docstring)
    thinking_budget: int | None = Field(None, ge=0, description="Most thinking tokens; enforced, then the model "
                                                                "answers. 0 skips thinking.")
    thinking_token_budget: int | None = Field(None, ge=0, description="vLLM's name for thinking_budget.")
    reasoning_effort: Effort | None = Field(None, description="Mapped to a thinking budget per model.")
    reasoning: ReasoningOptions | None = Field(None, description="Responses API / OpenRouter reasoning object.")
    thinking: AnthropicThinking | None = Field(None, description="Anthropic's thinking object.")
    thinking_config: GeminiThinking | None = Field(None, description="Gemini's thinking config.")
    thinkingConfig: GeminiThinking | None = Field(None, description="Gemini's thinking config (camelCase).")
    enable_thinking: bool | None = Field(None, description="Qwen's switch (top level).")
    think: bool | Literal["low", "medium", "high"] | None = Field(None, description="Ollama's switch or level.")
    early_exit: Literal["deer", "dynasor", "none"] | EarlyExitOptions | None = Field(
        None, description="Stop thinking once a trial answer is settled (DEER) or stable (Dynasor).")
    chat_template_kwargs: dict[str, Any] | None = Field(
        None, description="Passed to the model's chat template; enable_thinking=false turns thinking off (the "
                          "model's own way: Qwen3's switch, else a prefilled empty thinking section).")

    # set by _normalise on every validation. Not a default_factory: pydantic inspects a factory's signature on
    # every instance it makes (~0.1 ms for this dataclass, per request)
    _control: Control = PrivateAttr(None)

    @property
    def control(self) -> Control:
        return self._control

    # Checks ------------------------------------------------------------------------------------
    def _refusals(self) -> dict[str, bool]:
        """OpenAI fields this server does not implement: field -> whether the value asks for nothing."""
        return {"n": _default(self.n, 1), "logit_bias": _default(self.logit_bias, {})}

    def _vllm_refusals(self) -> None:
        """vLLM fields this server does not take (vllm_fields.REFUSED): a 400 unless they hold vLLM's default."""
        for name, value in (self.model_extra or {}).items():
            if name in REFUSED and value is not None and value != vllm_default(name):
                raise param_error("unsupported_parameter", f"{name}={value!r} is not supported by this server "
                                                           f"({REFUSED[name]}); leave it out", name)

    def _logprobs(self) -> tuple[bool, int]:
        return False, 0

    @model_validator(mode="after")
    def _normalise(self) -> Extensions:
        for name, ok in self._refusals().items():
            if not ok:
                raise param_error("unsupported_parameter", f"{name}={getattr(self, name)!r} is not supported by "
                                                           "this server; leave it out", name)
        self._vllm_refusals()
        stop = (self.stop,) if isinstance(self.stop, str) else tuple(self.stop or ())
        if len(stop) > 4 or any(not s for s in stop):
            raise param_error("invalid_value", "stop takes a string or a list of up to 4 non-empty strings", "stop")
        logprobs, top = self._logprobs()
        limit = self.max_tokens or self.max_completion_tokens
        if self.min_tokens and limit is not None and self.min_tokens > limit:  # vLLM's own check and wording
            raise param_error("invalid_value", f"min_tokens must be less than or equal to max_tokens={limit}, got "
                                               f"{self.min_tokens}.", "min_tokens")
        if self.allowed_token_ids is not None and not self.allowed_token_ids:
            raise param_error("invalid_value", "allowed_token_ids must not be empty", "allowed_token_ids")
        if self.bad_words and any(not w for w in self.bad_words):  # vLLM's own check and wording
            raise param_error("invalid_value", f"bad_words cannot contain an empty string. Got bad_words="
                                               f"{self.bad_words}", "bad_words")
        sampling = Sampling(self.temperature, self.top_p, self.seed, stop, logprobs, top,
                            top_k=None if self.top_k is None else max(0, self.top_k), shaping=self._shaping(),
                            include_stop_str_in_output=bool(self.include_stop_str_in_output),
                            skip_special_tokens=self.skip_special_tokens is not False, kv=self._kv())
        self._control = self._reasoning_control(sampling)
        return self

    def _kv(self):
        if self.kv_cache is None:
            return None
        from brevity.engines.kv_policy import parse_kv_policy

        try:
            return parse_kv_policy(self.kv_cache)
        except BrevityError as e:
            raise param_error("invalid_value", str(e), "kv_cache") from None

    def _shaping(self) -> Shaping:
        """vLLM's extensions as set, the rest at their defaults."""
        given = {"min_p": self.min_p, "repetition_penalty": self.repetition_penalty,
                 "presence_penalty": self.presence_penalty, "frequency_penalty": self.frequency_penalty,
                 "ignore_eos": self.ignore_eos, "min_tokens": self.min_tokens,
                 "stop_token_ids": None if self.stop_token_ids is None else tuple(self.stop_token_ids),
                 "allowed_token_ids": None if self.allowed_token_ids is None else tuple(self.allowed_token_ids),
                 "bad_words": tuple(self.bad_words) if self.bad_words else None}
        return Shaping(**{k: v for k, v in given.items() if v is not None})

    def _reasoning_control(self, sampling: Sampling) -> Control:
        claims: list[tuple[str, str, Any]] = []

        def budget(name: str, n: int | None) -> None:
            if n is None:
                return
            if n == -1:
                claims.extend([(name, "thinking", True), (name, "budget", DYNAMIC)])
            else:
                claims.extend([(name, "thinking", n > 0), (name, "budget", n)])

        def effort(name: str, level: str | None) -> None:
            if level is not None:
                claims.extend([(name, "thinking", level != "none"), (name, "effort", level)])

        def switch(name: str, on: bool | None) -> None:
            if on is not None:
                claims.append((name, "thinking", on))

        max_tokens = [(n, "max_tokens", v) for n, v in (("max_tokens", self.max_tokens),
                                                         ("max_completion_tokens", self.max_completion_tokens))
                      if v is not None]
        budget("thinking_budget", self.thinking_budget)
        budget("thinking_token_budget", self.thinking_token_budget)
        effort("reasoning_effort", self.reasoning_effort)
        if r := self.reasoning:
            effort("reasoning.effort", r.effort)
            budget("reasoning.max_tokens", r.max_tokens)
            switch("reasoning.enabled", r.enabled)
            if r.exclude is not None:
                claims.append(("reasoning.exclude", "hide", r.exclude))
        if t := self.thinking:
            switch("thinking.type", t.type == "enabled")
            budget("thinking.budget_tokens", t.budget_tokens)
        for key in ("thinking_config", "thinkingConfig"):
            if g := getattr(self, key):
                budget(f"{key}.thinking_budget", g.thinking_budget)
                effort(f"{key}.thinking_level", g.thinking_level)
                if g.include_thoughts is not None:
                    claims.append((f"{key}.include_thoughts", "hide", not g.include_thoughts))
        switch("enable_thinking", self.enable_thinking)
        if self.include_reasoning is not None:
            claims.append(("include_reasoning", "hide", not self.include_reasoning))
        kwargs = dict(self.chat_template_kwargs or {})
        if "enable_thinking" in kwargs:
            on = kwargs.pop("enable_thinking")
            if not isinstance(on, bool):
                raise param_error("invalid_value", "chat_template_kwargs.enable_thinking must be true or false",
                                  "chat_template_kwargs.enable_thinking")
            switch("chat_template_kwargs.enable_thinking", on)
        if isinstance(self.think, bool):
            switch("think", self.think)
        else:
            effort("think", self.think)
        early = self.early_exit if isinstance(self.early_exit, EarlyExitOptions) else None
        exit_name = early.method if early else self.early_exit
        if exit_name not in (None, "none"):
            claims.append(("early_exit", "early_exit", exit_name))
        agreed = _agree(max_tokens + claims)
        value = {k: v for k, (v, _) in agreed.items()}
        where = {k: f for k, (_, f) in agreed.items()}
        if "effort" in value and value["effort"] != "none" and "budget" in value:
            raise param_error("conflicting_parameters", f"{where['budget']} and {where['effort']} both say how "
                                                        "much to think; send one of them", where["budget"])
        if value.get("thinking") is False and "early_exit" in value:
            raise param_error("conflicting_parameters", f"{where['thinking']} turns thinking off, so early_exit "
                                                        "cannot apply; drop one of them", "early_exit")
        n = value.get("budget")
        return Control(thinking=value.get("thinking"), budget=None if n == DYNAMIC else n,
                       effort=value.get("effort"), early_exit=value.get("early_exit"),
                       early_exit_params=dict(early.model_extra or {}) if early else {},
                       hide_reasoning=bool(value.get("hide")), max_tokens=value.get("max_tokens"),
                       template_kwargs=kwargs, sampling=sampling, fields=where)

    def unknown_fields(self) -> list[str]:
        """Keys in no schema this server knows (the server refuses or ignores them, by its config); vLLM's refused
        fields at their default are known."""
        return [k for k in (self.model_extra or {}) if k not in REFUSED]

    def include_usage(self) -> bool:
        return bool(self.stream_options and self.stream_options.include_usage)


class TextPart(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["text"]
    text: str


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "developer", "user", "assistant"]
    content: str | list[TextPart] | None = ""
    name: str | None = None
    refusal: str | None = None
    reasoning: str | None = Field(None, description="An assistant turn's reasoning (vLLM's field).")
    reasoning_content: str | None = Field(None, description="The same, by its older name (DeepSeek).")

    def text(self) -> str:
        if self.content is None:
            return ""
        return self.content if isinstance(self.content, str) else "".join(p.text for p in self.content)

    def past_reasoning(self) -> str | None:
        return self.reasoning_content if self.reasoning_content is not None else self.reasoning

    def for_template(self) -> dict:
        """The message as the chat template sees it: past reasoning as `reasoning_content`, the template's
        to keep or drop (most drop it before the last user turn)."""
        out = {"role": self.role if self.role != "developer" else "system", "content": self.text()}
        if self.past_reasoning() is not None:
            out["reasoning_content"] = self.past_reasoning()
        return out


class ChatCompletionRequest(Extensions):
    messages: list[ChatMessage] = Field(min_length=1)
    logprobs: bool | None = Field(None, description="Log-probabilities of the answer's tokens.")
    top_logprobs: int | None = Field(None, ge=0, le=20, description="Alternatives per token (needs logprobs).")
    tools: list[dict[str, Any]] | None = Field(None, description="Not supported: only empty.")
    tool_choice: str | dict[str, Any] | None = Field(None, description="Only \"none\" or \"auto\" (no tools).")
    parallel_tool_calls: bool | None = None
    functions: list[dict[str, Any]] | None = Field(None, description="Not supported: only empty.")
    function_call: str | dict[str, Any] | None = None
    response_format: dict[str, Any] | None = Field(None, description="Only {\"type\": \"text\"}.")
    modalities: list[str] | None = None
    audio: dict[str, Any] | None = None
    prediction: dict[str, Any] | None = None
    web_search_options: dict[str, Any] | None = None
    verbosity: Literal["low", "medium", "high"] | None = None
    echo: bool | None = Field(None, description="vLLM: only false (the prompt is not repeated).")

    def _refusals(self) -> dict[str, bool]:
        return {**super()._refusals(), "tools": _default(self.tools, []),
                "tool_choice": _default(self.tool_choice, "none", "auto"),
                "functions": _default(self.functions, []),
                "function_call": _default(self.function_call, "none", "auto"),
                "response_format": _default(self.response_format, {"type": "text"}),
                "modalities": _default(self.modalities, ["text"]), "audio": self.audio is None,
                "prediction": self.prediction is None, "web_search_options": self.web_search_options is None,
                "verbosity": _default(self.verbosity, "medium"), "echo": _default(self.echo, False)}

    def _logprobs(self) -> tuple[bool, int]:
        if self.top_logprobs and not self.logprobs:
            raise param_error("invalid_value", "top_logprobs needs logprobs: true", "top_logprobs")
        return bool(self.logprobs), self.top_logprobs or 0

    @model_validator(mode="after")
    def _messages(self) -> ChatCompletionRequest:
        for i, m in enumerate(self.messages):
            if None not in (m.reasoning, m.reasoning_content) and m.reasoning != m.reasoning_content:
                raise param_error("conflicting_parameters", f"messages[{i}] has different reasoning and "
                                                            "reasoning_content; send one of them",
                                  f"messages[{i}].reasoning")
            if m.role != "assistant" and m.past_reasoning() is not None:
                raise param_error("invalid_value", "only assistant messages carry reasoning",
                                  f"messages[{i}].reasoning")
        return self

    def unknown_fields(self) -> list[str]:
        return super().unknown_fields() + [f"messages[{i}].{k}" for i, m in enumerate(self.messages)
                                           for k in (m.model_extra or {})]


TokenIds = list[int]


class CompletionRequest(Extensions):
    prompt: str | list[str] | TokenIds | list[TokenIds] = Field(
        description="Prompt text in the model's own format, token ids, or a list of either (one choice each).")
    logprobs: int | None = Field(None, ge=0, le=5, description="Log-probabilities, with this many alternatives.")
    echo: bool | None = Field(None, description="Not supported: only false.")
    suffix: str | None = Field(None, description="Not supported: only empty.")
    best_of: int | None = Field(None, ge=1, description="Only 1.")

    def _refusals(self) -> dict[str, bool]:
        return {**super()._refusals(), "echo": _default(self.echo, False), "suffix": _default(self.suffix, ""),
                "best_of": _default(self.best_of, 1)}

    def _logprobs(self) -> tuple[bool, int]:
        return self.logprobs is not None, self.logprobs or 0

    def prompts(self) -> list[str | list[int]]:
        """Each prompt: a text or a list of token ids."""
        p = self.prompt
        if isinstance(p, str):
            return [p]
        if p and all(isinstance(x, int) for x in p):
            return [list(p)]
        return list(p)


# Responses --------------------------------------------------------------------------------------
def error_body(message: str, type_: str = "invalid_request_error", param: str | None = None,
               code: str | None = None) -> dict:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:24]}"


def output_tokens(sol: Solution, close_tokens: int = 0, counts_eos: bool = False) -> int:
    """Every token of the output, as vLLM counts `completion_tokens`: thinking and answer (the bench's
    `generated_positions`), the closing marker where thinking closed inside the output (`close_tokens`: its
    length), and the end-of-sequence token where the output ended on one (`counts_eos`: the request had no stop
    strings, so a "stop" finish was the eos)."""
    n = sol.generated_positions
    if close_tokens and sol.thinking_tokens and (sol.answer_tokens or sol.answer_truncated):
        n += close_tokens
    if counts_eos and sol.finish_reason == "stop":
        n += 1
    return n


def usage(sols: Solution | list[Solution], prompt_tokens: int, close_tokens: int = 0,
          counts_eos: bool = False) -> dict:
    """Usage of one solution or the sum over several (a completions request with several prompts);
    `reasoning_tokens` are the bench's thinking tokens, `completion_tokens` every output token (`output_tokens`)."""
    sols = sols if isinstance(sols, list) else [sols]
    completion = sum(output_tokens(s, close_tokens, counts_eos) for s in sols)
    return {"prompt_tokens": prompt_tokens, "completion_tokens": completion,
            "total_tokens": prompt_tokens + completion,
            "completion_tokens_details": {"reasoning_tokens": sum(s.thinking_tokens for s in sols)}}


def finish_reason(sol: Solution) -> str:
    return "stop" if sol.answer_tokens and sol.finish_reason == "stop" else "length"


def brevity_info(sol: Solution, spec: str) -> dict:
    info = {"method": spec, "thinking_tokens": sol.thinking_tokens, "probe_tokens": sol.probe_tokens,
            "forced_close": bool(sol.extra.get("forced"))}
    for k in ("exit", "route"):
        if k in sol.extra:
            info[k] = sol.extra[k]
    return info


def chat_response(rid: str, model: str, sol: Solution, spec: str, prompt_tokens: int,
                  hide_reasoning: bool = False, counted: dict | None = None) -> dict:
    """`counted`: usage's close_tokens and counts_eos for this model and request."""
    reasoning, answer = response_parts(sol)
    if hide_reasoning:
        reasoning = None
    message = {"role": "assistant", "content": answer, "reasoning_content": reasoning, "reasoning": reasoning}
    return {"id": rid, "object": "chat.completion", "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "message": message, "finish_reason": finish_reason(sol), "logprobs": None}],
            "usage": usage(sol, prompt_tokens, **(counted or {})), "brevity": brevity_info(sol, spec)}


def completion_response(rid: str, model: str, sols: list[Solution], texts: list[str],
                        injected: list[list[list[int]]], spec: str, prompt_tokens: int,
                        counted: dict | None = None) -> dict:
    """One choice per prompt; `texts` are the continuations as the model's format writes them, and
    `injected` the [start, end) character spans in each that the method wrote, not the model."""
    choices = [{"index": i, "text": t, "finish_reason": finish_reason(s), "logprobs": None}
               for i, (s, t) in enumerate(zip(sols, texts))]
    info = brevity_info(sols[0], spec) if len(sols) == 1 else {
        "method": spec, "thinking_tokens": sum(s.thinking_tokens for s in sols),
        "probe_tokens": sum(s.probe_tokens for s in sols),
        "forced_close": any(s.extra.get("forced") for s in sols),
        "choices": [brevity_info(s, spec) for s in sols]}
    info["injected"] = injected
    return {"id": rid, "object": "text_completion", "created": int(time.time()), "model": model,
            "choices": choices, "usage": usage(sols, prompt_tokens, **(counted or {})), "brevity": info}


def stream_chunk(rid: str, model: str, created: int, chat: bool, piece: dict | str | None = None,
                 finish: str | None = None, usage_: dict | None = None) -> dict:
    """One SSE chunk: `piece` is a chat delta or a completion's text; None sends no choice (the usage chunk)."""
    choice = {"index": 0, ("delta" if chat else "text"): piece, "finish_reason": finish, "logprobs": None}
    chunk = {"id": rid, "object": "chat.completion.chunk" if chat else "text_completion", "created": created,
             "model": model, "choices": [] if piece is None else [choice]}
    if usage_ is not None:
        chunk["usage"] = usage_
    return chunk
