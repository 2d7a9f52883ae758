"""The OpenAI wire format `brevity serve` speaks, with Brevity's request extensions.

Extensions (all optional, in the request body; the openai client passes them as `extra_body`):
- `thinking_budget`: most thinking tokens, enforced; thinking then closes and the model answers.
- `reasoning_effort`: OpenAI's levels, mapped to a thinking budget per model by the server config.
- `early_exit`: `"deer"`, `"dynasor"` or `"none"`, or an object `{"method": "deer", "threshold": 0.9}`
  whose other keys are the method's parameters.
Responses carry the reasoning as `reasoning_content` (DeepSeek, vLLM) and `reasoning` (vLLM's newer
field), and `usage.completion_tokens_details.reasoning_tokens`, counted as the bench counts thinking.
"""

from __future__ import annotations

import time
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from brevity.methods.solution import Solution
from brevity.serve.stream import raw_text, response_parts

Effort = Literal["none", "minimal", "low", "medium", "high", "xhigh"]


class EarlyExitOptions(BaseModel):
    """An early-exit method and its parameters (the method's own, e.g. deer's threshold)."""

    model_config = ConfigDict(extra="allow")
    method: Literal["deer", "dynasor", "none"]


class Extensions(BaseModel):
    model_config = ConfigDict(extra="ignore")
    model: str = Field(description="A served model, or an alias naming a route such as route:cascade.")
    max_tokens: int | None = Field(None, ge=1, description="Most generated tokens, thinking included.")
    max_completion_tokens: int | None = Field(None, ge=1, description="OpenAI's newer name for max_tokens.")
    stream: bool = False
    stream_options: dict[str, Any] | None = None
    n: int = Field(1, ge=1, le=1, description="Only one choice per request.")
    temperature: float | None = Field(None, ge=0, le=2, description="Sampling temperature (0: greedy); unset: "
                                      "the model's generation_config.json, greedy without one.")
    # Stand-ins until the serve-protocol lane's request model lands (it validates these fully).
    top_p: float | None = Field(None, gt=0, le=1)
    seed: int | None = None
    stop: str | list[str] | None = Field(None, description="Stop strings for the answer (thinking is not cut).")
    thinking_budget: int | None = Field(None, ge=0, description="Most thinking tokens; enforced, then the model "
                                                                "answers. 0 skips thinking.")
    reasoning_effort: Effort | None = Field(None, description="Mapped to a thinking budget per model.")
    early_exit: Literal["deer", "dynasor", "none"] | EarlyExitOptions | None = Field(
        None, description="Stop thinking once a trial answer is settled (DEER) or stable (Dynasor).")
    chat_template_kwargs: dict[str, Any] | None = Field(
        None, description="Passed to the model's chat template; enable_thinking=false turns thinking off (the "
                          "model's own way: Qwen3's switch, else a prefilled empty thinking section).")

    def thinking_off(self) -> bool:
        return (self.chat_template_kwargs or {}).get("enable_thinking") is False

    def limit(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens

    def include_usage(self) -> bool:
        return bool((self.stream_options or {}).get("include_usage"))


class TextPart(BaseModel):
    type: Literal["text"]
    text: str


class ChatMessage(BaseModel):
    role: Literal["system", "developer", "user", "assistant"]
    content: str | list[TextPart]

    def text(self) -> str:
        return self.content if isinstance(self.content, str) else "".join(p.text for p in self.content)


class ChatCompletionRequest(Extensions):
    messages: list[ChatMessage] = Field(min_length=1)
    logprobs: bool | None = None
    top_logprobs: int | None = Field(None, ge=0, le=20)


class CompletionRequest(Extensions):
    prompt: str | list[str] = Field(description="Prompt text in the model's own format (one prompt).")
    logprobs: int | None = Field(None, ge=0, le=20)

    def text(self) -> str:
        if isinstance(self.prompt, list):
            return self.prompt[0] if len(self.prompt) == 1 else ""
        return self.prompt


def error_body(message: str, type_: str = "invalid_request_error", param: str | None = None,
               code: str | None = None) -> dict:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:24]}"


def usage(sol: Solution, prompt_tokens: int) -> dict:
    completion = sol.generated_positions
    return {"prompt_tokens": prompt_tokens, "completion_tokens": completion,
            "total_tokens": prompt_tokens + completion,
            "completion_tokens_details": {"reasoning_tokens": sol.thinking_tokens}}


def finish_reason(sol: Solution) -> str:
    return "stop" if sol.answer_tokens and sol.finish_reason == "stop" else "length"


def brevity_info(sol: Solution, spec: str) -> dict:
    info = {"method": spec, "thinking_tokens": sol.thinking_tokens, "probe_tokens": sol.probe_tokens,
            "forced_close": bool(sol.extra.get("forced"))}
    for k in ("exit", "route"):
        if k in sol.extra:
            info[k] = sol.extra[k]
    return info


def chat_response(rid: str, model: str, sol: Solution, spec: str, prompt_tokens: int, fmt=None) -> dict:
    reasoning, answer = response_parts(sol)
    message = {"role": "assistant", "content": answer, "reasoning_content": reasoning, "reasoning": reasoning}
    return {"id": rid, "object": "chat.completion", "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "message": message, "finish_reason": finish_reason(sol), "logprobs": None}],
            "usage": usage(sol, prompt_tokens), "brevity": brevity_info(sol, spec)}


def completion_response(rid: str, model: str, sol: Solution, spec: str, prompt_tokens: int, fmt) -> dict:
    """`fmt`: the model's ReasoningFormat (the raw text keeps its markers)."""
    return {"id": rid, "object": "text_completion", "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "text": raw_text(sol, fmt), "finish_reason": finish_reason(sol),
                         "logprobs": None}],
            "usage": usage(sol, prompt_tokens), "brevity": brevity_info(sol, spec)}


def stream_chunk(rid: str, model: str, created: int, chat: bool, piece: dict | str | None = None,
                 finish: str | None = None, usage_: dict | None = None) -> dict:
    """One SSE chunk: `piece` is a chat delta or a completion's text; None sends no choice (the usage chunk)."""
    choice = {"index": 0, ("delta" if chat else "text"): piece, "finish_reason": finish, "logprobs": None}
    chunk = {"id": rid, "object": "chat.completion.chunk" if chat else "text_completion", "created": created,
             "model": model, "choices": [] if piece is None else [choice]}
    if usage_ is not None:
        chunk["usage"] = usage_
    return chunk
