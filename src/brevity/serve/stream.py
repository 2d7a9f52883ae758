"""One response's text on its way from a method (in the engine's worker thread) to an HTTP handler.

The method writes what the model produces and what it injects, in order; this object splits it at the
model's closing marker (its format's) into reasoning and answer, the way vLLM's reasoning parsers do, drops
a model-written opening marker, and hands the pieces to the event loop. When the method is done, `finish`
sends whatever the method did not stream (routes and latent methods stream nothing), so the streamed fields
always add up to the non-streamed response.
"""

from __future__ import annotations

import asyncio
import logging
import re

from brevity.formats import ReasoningFormat
from brevity.formats.splitter import ThinkingSplitter
from brevity.methods.control import mark_injected
from brevity.methods.solution import Solution

log = logging.getLogger("brevity.serve")


def response_parts(sol: Solution) -> tuple[str, str]:
    """(reasoning, answer) of a finished method: the bench's thinking text and its answer text."""
    return sol.thinking, sol.answer.lstrip()


def thinking_closed(sol: Solution) -> bool:
    """Whether the thinking section ended (an answer began, or the turn ended), rather than being cut."""
    return bool(sol.answer_tokens) or sol.answer_truncated or sol.finish_reason == "stop"


def raw_text(sol: Solution, fmt: ReasoningFormat) -> str:
    """A /v1/completions response: the continuation in the model's own format. A closing marker is written
    only where thinking actually closed."""
    return "".join(text for _, text in raw_pieces(sol, fmt))


def raw_pieces(sol: Solution, fmt: ReasoningFormat) -> list[tuple[bool, str]]:
    """The raw continuation as (injected, text) pieces: the spans the method recorded on the Solution as
    written by it (`Solution.injected`, in `thinking + close`), the rest as the model's."""
    reasoning, answer = response_parts(sol)
    if not fmt.thinks:
        return [(False, answer)]
    opener = fmt.open if not fmt.prompt_opens and reasoning else ""  # the model wrote it: it is its text
    pieces, at = [(False, opener)], 0
    close_injected = False
    for start, end in sol.injected:
        if start >= len(reasoning):  # the closing marker
            close_injected = True
            continue
        pieces += [(False, reasoning[at:start]), (True, reasoning[start:end])]
        at = end
    pieces.append((False, reasoning[at:]))
    if thinking_closed(sol):
        pieces += [(close_injected, fmt.close), (False, fmt.after_close + answer)]
    return [(i, t) for i, t in pieces if t]


class ResponseStream:
    """A served request's output stream (`RunContext.streams`; engines/streaming.py). `raw` (completions) keeps
    the text verbatim in one field, what the model wrote and what the method injected (`inject`: a closing phrase
    or marker, whose character spans are kept in `injected`), starting with `prefill`, the text the method adds after
    the client's prompt (thinking turned off); otherwise reasoning and content are separate fields (chat).
    `drop`: a pattern of the special tokens' texts the answer leaves out (vLLM's skip_special_tokens, as the
    method's answer text does); each arrives whole, as engines write text token by token."""

    def __init__(self, loop: asyncio.AbstractEventLoop | None, fmt: ReasoningFormat, raw: bool = False,
                 wants_text: bool = True, prefill: str = "", drop: re.Pattern | None = None):
        self.loop = loop
        self.fmt = fmt
        self.drop = drop
        self.splitter = ThinkingSplitter(fmt)  # chat: reasoning and content, cut where the format's markers say
        self.queue: asyncio.Queue = asyncio.Queue()
        self.raw = raw
        self.transcript = ""  # raw: the continuation as sent
        self.injected: list[list[int]] = []  # raw: [start, end) of the text the method wrote
        # raw: a prefill that closes thinking already carries the close a no-thinking method announces
        self.close_announced = bool(prefill) and fmt.close is not None and fmt.close in prefill
        if raw and prefill:
            self._raw(prefill, injected=True)
        self.wants_text = wants_text  # False: only cancellation matters (a non-streamed request)
        self.cancelled = False
        self.finished = False  # the method is done with it (finish or fail was called)
        self.reasoning, self.content = "", ""
        self.started = False  # the first generated text arrived (a "started" event went out)

    # Worker-thread side --------------------------------------------------------------------
    def inject(self, text: str) -> None:
        """Text the method writes, not the model."""
        if self.raw and self.wants_text:
            if self.close_announced and text == self.fmt.close:
                self.close_announced = False
                return
            self._raw(text, injected=True)
        else:
            self.write(text)

    def opened(self) -> None:
        """The method's prompt opened thinking: what it writes next is thinking (methods/control.opened)."""
        if not self.raw:
            self.splitter.think()

    def _raw(self, text: str, injected: bool = False) -> None:
        if not text:
            return
        if injected:
            mark_injected(self.injected, len(self.transcript), len(self.transcript) + len(text))
        self.transcript += text
        self._put("text", text)

    def write(self, text: str) -> None:
        if not self.wants_text:
            return
        if text and not self.started:  # the first token, even one held back as a possible marker: TTFT
            self.started = True
            self._put("started", None)
        if self.raw:
            if not self.fmt.thinks or (self.fmt.close is not None and self.fmt.close in self.transcript):
                text = self._dropped(text)  # the answer part
            return self._raw(text)
        for piece in self.splitter.feed(text):
            if piece.kind == "reasoning":
                self._reasoning(piece.text)
            elif piece.kind == "content":
                self._content(piece.text)

    @property
    def in_answer(self) -> bool:
        return self.splitter.in_answer

    def _content(self, text: str) -> None:
        text = self._dropped(text)
        if not self.content:
            text = text.lstrip()
        if text:
            self.content += text
            self._put("content", text)

    def _dropped(self, text: str) -> str:
        return self.drop.sub("", text) if self.drop is not None else text

    def _reasoning(self, text: str) -> None:
        if text:
            self.reasoning += text
            self._put("reasoning", text)

    def finish(self, sol: Solution) -> None:
        """Send what the method did not stream, then the Solution itself."""
        if self.wants_text and self.raw:
            if not self.transcript:  # the method streamed nothing (latent methods): rebuilt from its result
                for was_injected, text in raw_pieces(sol, self.fmt):
                    self._raw(text, injected=was_injected)
        elif self.wants_text:
            reasoning, answer = response_parts(sol)
            if not reasoning.startswith(self.reasoning) or not answer.startswith(self.content):
                log.warning("streamed text diverged from the method's result (%s)", sol.method)
            elif not self.in_answer:
                self.splitter.think()
                rest = reasoning[len(self.reasoning):]
                self.write(rest + (self.fmt.close + answer if self.fmt.thinks and thinking_closed(sol) else ""))
            else:
                rest = reasoning[len(self.reasoning):]
                if rest:  # reasoning the method injected after the answer began: should not happen
                    self._reasoning(rest)
                self.write(answer[len(self.content):])
        self.finished = True
        self._put("done", sol)

    def fail(self, error: BaseException) -> None:
        self.finished = True
        self._put("error", error)

    def _put(self, kind: str, value) -> None:
        if self.loop is not None:
            self.loop.call_soon_threadsafe(self.queue.put_nowait, (kind, value))
        else:
            self.queue.put_nowait((kind, value))
