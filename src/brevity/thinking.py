"""The one place that splits a completion into thinking and answer and counts thinking tokens.

The bench's thinking tokens and the server's `reasoning_tokens` both come from here. A completion
starts inside the thinking span (the chat template opens it); tokens injected by a method inside the
span count; the `<think>` and `</think>` markers themselves do not.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from brevity.zoo.chat import END_THINK, THINK


@dataclass
class Split:
    thinking_ids: list[int]
    answer_ids: list[int]
    closed: bool  # False when the completion never left the thinking span
    answer_start: int = 0  # index in the completion of the first answer token (aligns per-token logprobs)


def split_completion(ids: list[int], tokenizer) -> Split:
    think_id = tokenizer.convert_tokens_to_ids(THINK)
    end_id = tokenizer.convert_tokens_to_ids(END_THINK)
    eos = tokenizer.eos_token_id
    start = ids.index(think_id) + 1 if think_id in ids else 0
    if end_id in ids[start:]:
        j = ids.index(end_id, start)
        thinking, answer, closed = ids[start:j], ids[j + 1:], True
    else:
        j, thinking, answer, closed = len(ids) - 1, ids[start:], [], False
    if answer and answer[-1] == eos:
        answer = answer[:-1]
    return Split(thinking, answer, closed, j + 1)


def count_thinking_tokens(ids: list[int], tokenizer) -> int:
    return len(split_completion(ids, tokenizer).thinking_ids)


def mention_end(text: str, gold: str) -> int | None:
    """Character offset just past the first place the gold answer appears as a number (or word)."""
    pattern = r"(?<![\d.])" + re.escape(gold) + r"(?![\d])" if re.fullmatch(r"-?\d+(\.\d+)?", gold) \
        else r"\b" + re.escape(gold) + r"\b"
    m = re.search(pattern, text)
    return m.end() if m else None


def first_mention(thinking_ids: list[int], tokenizer, gold: str) -> int | None:
    """Tokens up to and including the first place the gold answer appears as a number (or word)."""
    pieces = [tokenizer.decode([t], skip_special_tokens=False) for t in thinking_ids]
    end = mention_end("".join(pieces), gold)
    if end is None:
        return None
    chars = 0
    for j, piece in enumerate(pieces):
        chars += len(piece)
        if chars >= end:
            return j + 1
    return len(pieces)
