"""A byte-level BPE tokenizer trained on the task text, digits split one per token (as Qwen2)."""

from __future__ import annotations

from pathlib import Path

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from brevity.tasks import load_problems
from brevity.zoo.chat import CHAT_TEMPLATE, IM_END, PAD, SPECIAL_TOKENS, completion_text, prompt_text

VOCAB_SIZE = 1024


def corpus(n_per_task: int = 4000) -> list[str]:
    """Training text for the tokenizer: every task and every trace style, in the chat format."""
    texts = []
    for task in ("arith", "mult", "graph"):
        for p in load_problems(task, split="train", n=n_per_task):
            for style in ("verbose", "compact", "none"):
                texts.append(prompt_text(p.question) + completion_text(p.traces[style], p.answer))
    return texts


def train_tokenizer(out_dir: str | Path, vocab_size: int = VOCAB_SIZE):
    """Train, wrap as a transformers fast tokenizer with the chat template, save, and return it."""
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
    ])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(corpus(), trainer=trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=IM_END, pad_token=PAD,
                                   additional_special_tokens=SPECIAL_TOKENS[3:])
    fast.chat_template = CHAT_TEMPLATE
    fast.padding_side = "left"
    fast.save_pretrained(str(out_dir))
    return fast
