"""The chat format every zoo model uses (Qwen3/R1 style): one place builds prompts and completions."""

from __future__ import annotations

THINK, END_THINK = "<think>", "</think>"
IM_START, IM_END = "<|im_start|>", "<|im_end|>"
PAD = "<|endoftext|>"
# Reserved now so that later issues (latent reasoning, pause tokens) never resize committed embeddings.
RESERVED = ["<bot>", "<eot>", "<pause>", "<latent>"]
SPECIAL_TOKENS = [PAD, IM_START, IM_END, THINK, END_THINK, *RESERVED]

# The generation prompt opens the thinking span, as DeepSeek-R1's newer template does; a method that
# skips thinking prefills "</think>" (NoThinking) right after it.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n<think>\\n' }}{% endif %}"
)


# What `budget:N` injects when the budget runs out, before `</think>` (the Qwen3 / s1 recipe).
BUDGET_PHRASE = "\nOkay, time is up. Let me give the answer.\n"


def prompt_text(question: str, system: str | None = None) -> str:
    """The text the model sees before it starts thinking; equal to the tokenizer's chat template."""
    sys_part = f"{IM_START}system\n{system}{IM_END}\n" if system else ""
    return f"{sys_part}{IM_START}user\n{question}{IM_END}\n{IM_START}assistant\n{THINK}\n"


def answer_text(answer: str) -> str:
    return f"The answer is {answer}."


def completion_text(thinking: str, answer: str) -> str:
    """What the model writes after the prompt: thinking, the closing marker, then the answer."""
    body = f"{thinking}\n" if thinking else ""
    return f"{body}{END_THINK}\n\n{answer_text(answer)}{IM_END}"
