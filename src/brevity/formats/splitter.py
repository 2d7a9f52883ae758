"""Text that continues a rendered prompt, cut into reasoning and answer as it arrives: the one text splitter, for
streams and whole texts alike (`ModelFormat.split` is its counterpart on token ids).

Where the prompt opens thinking (the format's templates do, or a method that steers thinking opened it: `opened`),
the text starts inside thinking. Otherwise the model opens it: a model-written opening marker at the start (blanks
aside) is dropped, and a text that does not start with it is the answer (the model chose not to think), as
`ModelFormat.split` cuts token ids. Thinking ends at the format's closing marker. A marker split across two pieces
is held back until the next one decides."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, NamedTuple

if TYPE_CHECKING:
    from brevity.formats.base import ReasoningFormat

Kind = Literal["reasoning", "content", "open", "close"]


class Piece(NamedTuple):
    kind: Kind  # reasoning or content text, or the model's opening or closing marker (text of neither field)
    text: str


class ThinkingSplitter:
    """Feed it text in order (`feed`); it returns the pieces that are decided. `in_answer` once thinking closed
    (or never opened). `opened`: the prompt opened thinking though the format's own prompts do not (a method that
    steers thinking renders its prompt so); `think()` says so later."""

    def __init__(self, spec: ReasoningFormat, opened: bool = False):
        self.open, self.close = spec.open or "", spec.close or ""
        self.state = "answer" if not spec.thinks else ("thinking" if spec.prompt_opens or opened else "start")
        self.pending = ""  # text that may still turn out to be a marker

    @property
    def in_answer(self) -> bool:
        return self.state == "answer"

    def feed(self, text: str) -> list[Piece]:
        if self.state == "answer":
            return [Piece("content", text)] if text else []
        if self.state == "thinking" and self.pending and text.startswith(self.close) and \
                self.close.startswith(self.pending):
            self.pending = ""  # the model's partial closing marker, cut by the method that then writes it whole
        text, self.pending = self.pending + text, ""
        out: list[Piece] = []
        if self.state == "start":
            head = text.lstrip()
            if self.open.startswith(head) and len(head) < len(self.open):  # blank, or maybe the opening marker
                self.pending = text
                return out
            if not head.startswith(self.open):  # the model answered without thinking
                self.state = "answer"
                return [Piece("content", text)] if text else []
            out.append(Piece("open", self.open))
            text = head[len(self.open):]
            self.state = "thinking"
        i = text.find(self.close)
        if i == -1:
            keep = _marker_prefix(text, self.close)
            self.pending = text[len(text) - keep:] if keep else ""
            text = text[:len(text) - keep]
            return out + ([Piece("reasoning", text)] if text else [])
        out += [Piece("reasoning", text[:i])] if i else []
        out.append(Piece("close", self.close))
        self.state = "answer"
        return out + ([Piece("content", text[i + len(self.close):])] if text[i + len(self.close):] else [])

    def flush(self) -> list[Piece]:
        """The end of the text: what was held back is what it looked like (text before a marker that never came
        whole; at the start, an answer that never opened thinking)."""
        text, self.pending = self.pending, ""
        if self.state == "start":
            self.state = "answer"
            return [Piece("content", text)] if text else []
        return [Piece("reasoning", text)] if text else []

    def think(self) -> None:
        """Drop what was held back and continue inside thinking (the method opened it in its prompt, or its result
        says thinking opened)."""
        self.pending = ""
        if self.state == "start":
            self.state = "thinking"


def split_text(spec: ReasoningFormat, text: str, opened: bool = False) -> tuple[str, str, bool]:
    """(reasoning, answer, closed) of a whole completion's text."""
    s = ThinkingSplitter(spec, opened)
    pieces = s.feed(text) + s.flush()
    reasoning = "".join(p.text for p in pieces if p.kind == "reasoning")
    answer = "".join(p.text for p in pieces if p.kind == "content")
    return reasoning, answer, s.in_answer


def _marker_prefix(text: str, marker: str) -> int:
    """Length of the longest end of `text` that begins `marker` (held back until the next piece)."""
    for k in range(min(len(marker) - 1, len(text)), 0, -1):
        if marker.startswith(text[-k:]):
            return k
    return 0
