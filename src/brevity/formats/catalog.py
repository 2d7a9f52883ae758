"""The named reasoning formats. Markers follow each family's published chat template; splitting follows
vLLM's reasoning parsers (`deepseek_r1`, `qwen3`, `gpt_oss`)."""

from __future__ import annotations

from brevity.formats.base import ReasoningFormat

# The zoo's chat template (Qwen/R1 style): the generation prompt opens the thinking section, as
# DeepSeek-R1's newer template does. The zoo's tokenizers carry it as chat_template.jinja.
ZOO_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n<think>\\n' }}{% endif %}"
)

ZOO = ReasoningFormat(
    name="zoo",
    about="Brevity's tiny zoo: the prompt opens <think>, the model closes it and writes 'The answer is N.'",
    forced_close="\nOkay, time is up. Let me give the answer.\n",
    nothink_text="",  # the zoo was trained to answer right after an empty `</think>`
    inducer="The answer is",
    answer_end=".",
    answer_tokens=48,
    instruction="",  # trained on bare questions
    template=ZOO_TEMPLATE,
)

DEEPSEEK_R1 = ReasoningFormat(
    name="deepseek-r1",
    about="DeepSeek-R1 and its Qwen/Llama distills: the template opens <think>\\n, the model closes </think>",
)

QWQ = ReasoningFormat(
    name="qwq",
    about="QwQ-32B: ChatML; the template opens <think>\\n, the model closes </think>",
)

QWEN3 = ReasoningFormat(
    name="qwen3",
    about="Qwen3 hybrid thinking: the model opens its own <think>; enable_thinking=false renders an empty block",
    prompt_opens=False,
    switch="enable_thinking",
    vllm_parser="qwen3",
)

SMOLLM3 = ReasoningFormat(
    name="smollm3",
    about="SmolLM3: the model opens its own <think>; the /no_think switch is enable_thinking in the template",
    prompt_opens=False,
    switch="enable_thinking",
    vllm_parser="deepseek_r1",
)

GPT_OSS = ReasoningFormat(
    name="gpt-oss",
    about="gpt-oss (harmony): reasoning in the analysis channel, the answer in the final channel",
    open="<|channel|>analysis<|message|>",
    close="<|end|><|start|>assistant<|channel|>final<|message|>",
    prompt_opens=False,
    exit_text="",
    after_close="",
    forced_close="\n\nTime is up; I will answer with what I have.",
    nothink_text="",
    vllm_parser="openai_gptoss",
)

DEEPSEEK_V3 = ReasoningFormat(
    name="deepseek-v3",
    about="DeepSeek V3.1 to V4 hybrid thinking: the `thinking` kwarg opens <think> in the prompt; off writes </think>",
    switch="thinking",
    vllm_parser="deepseek_v3",
)

MISTRAL = ReasoningFormat(
    name="mistral",
    about="Mistral's reasoning models (Magistral, Ministral 3 Reasoning): [THINK] ... [/THINK], opened by the model",
    open="[THINK]",
    close="[/THINK]",
    prompt_opens=False,
    exit_text="",
    after_close="",
    vllm_parser="mistral",
)

SEED_OSS = ReasoningFormat(
    name="seed-oss",
    about="ByteDance Seed-OSS: <seed:think> ... </seed:think>; thinking_budget 0 renders its own closed section",
    open="<seed:think>",
    close="</seed:think>",
    prompt_opens=False,
    exit_text="",
    after_close="",
    vllm_parser="seed_oss",
)

GEMMA4 = ReasoningFormat(
    name="gemma4",
    about="Gemma 4: thoughts in a <|channel>thought ... <channel|> block; enable_thinking switches it",
    open="<|channel>thought",
    close="<channel|>",
    prompt_opens=False,
    after_close="",
    vllm_parser="gemma4",
)

HY3 = ReasoningFormat(
    name="hy3",
    about="Tencent Hy3: <think:opensource> opened by the prompt; reasoning_effort no_think / low / high",
    open="<think:opensource>",
    close="</think:opensource>",
    exit_text="",
    after_close="",
    vllm_parser="hy_v3",
)

MINIMAX_M3 = ReasoningFormat(
    name="minimax-m3",
    about="MiniMax-M3: <mm:think> ... </mm:think>; thinking_mode enabled / disabled",
    open="<mm:think>",
    close="</mm:think>",
    exit_text="",
    after_close="",
    vllm_parser="minimax_m3",
)

KIMI_K3 = ReasoningFormat(
    name="kimi-k3",
    about="Kimi-K3: think and response blocks built by macros (<|open|>think<|sep|> ... <|close|>think<|sep|>)",
    open="<|open|>think<|sep|>",
    close="<|close|>think<|sep|><|open|>response<|sep|>",
    exit_text="",
    after_close="",
    vllm_parser="kimi_k3",
)

THINK = ReasoningFormat(
    name="think",
    about="any other thinking section: its markers, opening and switch are read off the model's chat template",
)

PLAIN = ReasoningFormat(
    name="plain",
    about="no thinking section: cot is plain generation; thinking methods refuse",
    open=None,
    close=None,
    prompt_opens=False,
    nothink_text="",
    inducer="",
    answer_end="",
    vllm_parser=None,
)

FORMATS: dict[str, ReasoningFormat] = {f.name: f for f in (ZOO, DEEPSEEK_R1, DEEPSEEK_V3, QWQ, QWEN3, SMOLLM3, GPT_OSS,
                                                            MISTRAL, SEED_OSS, GEMMA4, HY3, MINIMAX_M3, KIMI_K3, THINK,
                                                            PLAIN)}
