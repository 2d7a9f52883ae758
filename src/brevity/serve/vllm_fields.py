"""vLLM's request fields and what the gateway does with each.

Why: clients written for vLLM (its own `vllm bench serve` first) send vLLM's extensions with every request;
a gateway in front of vLLM must know each one, apply it, or refuse it by name, never drop it. The field list is
vLLM 0.32.0's (the version scripts/setup_vllm_cpu.sh installs), dumped by scripts/vllm_request_fields.py into
vllm_request_fields.json beside this module, with each field's default.

Groups (every field of both endpoints is in exactly one; a test checks):
- OPENAI: OpenAI's own fields, handled by `brevity.serve.protocol` as before;
- REASONING: reasoning controls (`thinking_token_budget`, `include_reasoning`, `chat_template_kwargs`), folded
  into the request's one `Control`;
- SAMPLING: applied to the generation calls whose text the client reads, per row of a batch on `hf`, and
  passed to an upstream server; never to a method's own probes;
- ACCEPTED: identifiers with no effect on the output (`request_id`, `session_id`);
- REFUSED: rendering fields Brevity's own rendering does not take yet and server-control fields (an upstream is
  not the client's to steer), each a 400 `unsupported_parameter` unless it holds vLLM's default.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

FIELDS_FILE = Path(__file__).with_name("vllm_request_fields.json")

OPENAI = frozenset({
    "model", "messages", "prompt", "max_tokens", "max_completion_tokens", "n", "stream", "stream_options",
    "temperature", "top_p", "seed", "stop", "logprobs", "top_logprobs", "user", "tools", "tool_choice",
    "parallel_tool_calls", "response_format", "reasoning_effort", "echo", "suffix", "logit_bias",
})
REASONING = frozenset({"thinking_token_budget", "include_reasoning", "chat_template_kwargs"})
SAMPLING = frozenset({
    "top_k", "min_p", "repetition_penalty", "presence_penalty", "frequency_penalty", "ignore_eos", "min_tokens",
    "stop_token_ids", "allowed_token_ids", "include_stop_str_in_output", "bad_words", "skip_special_tokens",
})
ACCEPTED = frozenset({"request_id", "session_id"})
# Field -> why it is refused (unless it holds vLLM's default).
REFUSED = {
    # rendering: Brevity renders with the model's own template through its format
    "chat_template": "Brevity renders with the model's own chat template",
    "add_generation_prompt": "Brevity always adds the generation prompt",
    "continue_final_message": "continuing a final assistant message is not supported",
    "documents": "documents for the chat template are not supported",
    "add_special_tokens": "Brevity renders the special tokens the template writes",
    "media_io_kwargs": "no multimodal input",
    "mm_processor_kwargs": "no multimodal input",
    "mm_payload": "no multimodal input",
    "return_mm_kwargs": "no multimodal input",
    "prompt_embeds": "prompts are text or token ids",
    "truncate_prompt_tokens": "prompts are not truncated",
    "truncation_side": "prompts are not truncated",
    # sampling not implemented here
    "spaces_between_special_tokens": "the text always spells the tokens as the model's format splits them",
    "use_beam_search": "beam search is not supported",
    "length_penalty": "beam search is not supported",
    "watermarking": "watermarking is not supported",
    "repetition_detection": "repetition detection is not supported",
    "structured_outputs": "structured outputs are not supported",
    # output shape
    "prompt_logprobs": "prompt log-probabilities are not returned",
    "logprob_token_ids": "log-probabilities of chosen token ids are not returned",
    "return_tokens_as_token_ids": "tokens are returned as text",
    "return_token_ids": "token ids are not returned",
    "return_token_offsets": "token offsets are not returned",
    "return_prompt_text": "the prompt text is not returned",
    "routed_experts_prompt_start": "expert routing is the server's",
    # server control: the upstream is not the client's to steer
    "priority": "scheduling priority is the server's",
    "kv_transfer_params": "KV transfer is the server's",
    "ec_transfer_params": "encoder-cache transfer is the server's",
    "vllm_xargs": "vLLM's extra arguments are the server's",
    "cache_salt": "the prefix cache is the server's",
    "stream_interval": "streams send every token",
}


@cache
def vllm_fields() -> dict:
    """{"vllm": version, "chat": {field: default}, "completions": {field: default}}."""
    return json.loads(FIELDS_FILE.read_text(encoding="utf-8"))


def default(field: str) -> object:
    """vLLM's default for a field (the chat endpoint's where both have it)."""
    d = vllm_fields()
    return d["chat"].get(field, d["completions"].get(field))


def group(field: str) -> str | None:
    for name, members in (("openai", OPENAI), ("reasoning", REASONING), ("sampling", SAMPLING),
                          ("accepted", ACCEPTED), ("refused", REFUSED)):
        if field in members:
            return name
    return None
