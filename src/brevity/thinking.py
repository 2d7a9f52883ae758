"""Where in a thinking trace the answer first appears (outcome efficiency). Splitting a completion into
thinking and answer, and counting thinking tokens, is the model's format's (`brevity.formats`)."""

from __future__ import annotations

import re


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
