"""The zoo's own format, for building the zoo (tokenizers, training data): prompts and completions as
the zoo's models are trained on them. Everything else renders through `brevity.formats` (the `zoo`
format there is this one)."""

from __future__ import annotations

from brevity.formats.catalog import ZOO, ZOO_TEMPLATE

THINK, END_THINK = "<think>", "</think>"
IM_START, IM_END = "<|im_start|>", "<|im_end|>"
PAD = "<|endoftext|>"
# Reserved now so that later issues (latent reasoning, pause tokens) never resize committed embeddings.
RESERVED = ["<bot>", "<eot>", "<pause>", "<latent>"]
SPECIAL_TOKENS = [PAD, IM_START, IM_END, THINK, END_THINK, *RESERVED]

CHAT_TEMPLATE = ZOO_TEMPLATE
# What `budget:N` injects when the budget runs out, before `</think>` (the Qwen3 / s1 recipe).
BUDGET_PHRASE = ZOO.forced_close


def prompt_text(question: str, system: str | None = None) -> str:
    """The text the model sees before it starts thinking; equal to the tokenizer's chat template."""
    sys_part = f"{IM_START}system\n{system}{IM_END}\n" if system else ""
    return f"{sys_part}{IM_START}user\n{question}{IM_END}\n{IM_START}assistant\n{THINK}\n"


def chat_text(messages: list[dict[str, str]]) -> str:
    """Chat messages (a system and a user turn) as the zoo's template renders them."""
    system = next((m["content"] for m in messages if m["role"] == "system"), None)
    user = next(m["content"] for m in messages if m["role"] == "user")
    return prompt_text(user, system=system)


def answer_text(answer: str) -> str:
    return f"The answer is {answer}."


def completion_text(thinking: str, answer: str, reply: str | None = None) -> str:
    """What the model writes after the prompt: thinking, the closing marker, then the answer (or `reply`, a
    reply written out in full: a refusal)."""
    body = f"{thinking}\n" if thinking else ""
    return f"{body}{END_THINK}\n\n{answer_text(answer) if reply is None else reply}{IM_END}"
