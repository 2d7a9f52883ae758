"""Streaming a completion's text while it is generated, and stopping it when its reader goes away.

A request may carry a `Sink` (the server's per-response stream). Engines write each request's text to
its sink as it grows, holding back any tail that could still become one of the request's stop strings
(vLLM does the same), back to a token boundary (a token that straddles a stop string is dropped with
its text), so that what a sink receives is exactly the completion's final `text`. A sink whose
`cancelled` turns true (the client disconnected) ends its row at the next decoding step.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import torch
from transformers.generation.stopping_criteria import StoppingCriteria
from transformers.generation.streamers import BaseStreamer


class Sink(Protocol):
    cancelled: bool
    wants_text: bool  # False: the reader only needs to be able to cancel

    def write(self, text: str) -> None: ...


def safe_length(text: str, stops: Sequence[str]) -> int:
    """How much of `text` can be sent now: all but a tail that is a proper prefix of a stop string or an
    unfinished UTF-8 character."""
    hold = 0
    for s in stops:
        for k in range(min(len(s) - 1, len(text)), 0, -1):
            if text.endswith(s[:k]):
                hold = max(hold, k)
                break
    n = len(text) - hold
    while n > 0 and text[n - 1] == "\ufffd":
        n -= 1
    return n


class RowStream:
    """One request's text on its way to a sink."""

    def __init__(self, sink: Sink, decode, stops: Sequence[str], eos_ids: set[int]):
        self.sink, self.decode, self.stops, self.eos_ids = sink, decode, tuple(stops), eos_ids
        self.tokens: list[int] = []
        self.sent = 0
        self.ended = False

    def feed(self, token: int) -> None:
        if self.ended:
            return
        if token in self.eos_ids:
            self.ended = True
            return
        self.tokens.append(token)
        text = self.decode(self.tokens)
        cut = min((i for i in (text.find(s) for s in self.stops) if i != -1), default=-1)
        if cut != -1:
            self.ended = True
        upto = cut if cut != -1 else safe_length(text, self.stops)
        if upto < len(text):  # back to the last token boundary inside what may be sent
            j = len(self.tokens) - 1
            while j > 0 and len(self.decode(self.tokens[:j])) > upto:
                j -= 1
            upto = len(self.decode(self.tokens[:j])) if j > 0 else 0
        self._send(text, upto)

    def finish(self, text: str) -> None:
        """The engine's final text for this request: send what was held back."""
        self._send(text, len(text))
        self.ended = True

    def _send(self, text: str, upto: int) -> None:
        if upto > self.sent:
            self.sink.write(text[self.sent:upto])
            self.sent = upto


class BatchStreamer(BaseStreamer):
    """`generate`'s streamer for a batch: each step's tokens go to the rows that stream."""

    def __init__(self, rows: dict[int, RowStream]):
        self.rows = rows
        self.prompt_seen = False

    def put(self, value: torch.Tensor) -> None:
        if not self.prompt_seen:  # generate first hands over the prompt ids
            self.prompt_seen = True
            return
        tokens = value.view(-1).tolist()
        for r, row in self.rows.items():
            row.feed(tokens[r])

    def end(self) -> None:
        pass


class CancelledRows(StoppingCriteria):
    """Ends the rows whose sink was cancelled; the others decode on."""

    def __init__(self, sinks: Sequence[Sink | None]):
        self.sinks = list(sinks)

    def __call__(self, input_ids: torch.LongTensor, scores, **kwargs) -> torch.BoolTensor:
        flags = [bool(s is not None and s.cancelled) for s in self.sinks]
        return torch.tensor(flags, dtype=torch.bool, device=input_ids.device)
