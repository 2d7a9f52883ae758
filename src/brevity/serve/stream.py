"""One response's text on its way from a method (in the engine's worker thread) to an HTTP handler.

The method writes what the model produces and what it injects, in order; this object splits it at
`</think>` into reasoning and answer, the way vLLM's reasoning parsers do, and hands the pieces to the
event loop. When the method is done, `finish` sends whatever the method did not stream (routes and
latent methods stream nothing), so the streamed fields always add up to the non-streamed response.
"""

from __future__ import annotations

import asyncio
import logging

from brevity.methods.solution import Solution
from brevity.zoo.chat import END_THINK

log = logging.getLogger("brevity.serve")


def response_parts(sol: Solution) -> tuple[str, str]:
    """(reasoning, answer) of a finished method: the bench's thinking text and its answer text."""
    return sol.thinking, sol.answer.lstrip()


def raw_text(sol: Solution) -> str:
    """A /v1/completions response: the continuation in the model's own format."""
    reasoning, answer = response_parts(sol)
    return f"{reasoning}{END_THINK}\n\n{answer}"


class ResponseStream:
    """The sink a served Problem carries (engines/streaming.py). `raw` keeps `</think>` in one text field
    (completions); otherwise reasoning and content are separate fields (chat)."""

    def __init__(self, loop: asyncio.AbstractEventLoop | None, raw: bool = False, wants_text: bool = True):
        self.loop = loop
        self.queue: asyncio.Queue = asyncio.Queue()
        self.raw = raw
        self.wants_text = wants_text  # False: only cancellation matters (a non-streamed request)
        self.cancelled = False
        self.finished = False  # the method is done with it (finish or fail was called)
        self.reasoning, self.content = "", ""
        self.in_answer = False

    # Worker-thread side --------------------------------------------------------------------
    def write(self, text: str) -> None:
        if not self.wants_text:
            return
        if not self.in_answer:
            i = text.find(END_THINK)
            if i == -1:
                self._reasoning(text)
                return
            self._reasoning(text[:i])
            self.in_answer = True
            if self.raw:
                self._put("text", f"{END_THINK}\n\n")
            text = text[i + len(END_THINK):]
        if not self.content:
            text = text.lstrip()
        if text:
            self.content += text
            self._put("content" if not self.raw else "text", text)

    def _reasoning(self, text: str) -> None:
        if text:
            self.reasoning += text
            self._put("reasoning" if not self.raw else "text", text)

    def finish(self, sol: Solution) -> None:
        """Send what the method did not stream, then the Solution itself."""
        if self.wants_text:
            reasoning, answer = response_parts(sol)
            if not reasoning.startswith(self.reasoning) or not answer.startswith(self.content):
                log.warning("streamed text diverged from the method's result (%s)", sol.method)
            elif not self.in_answer:
                self.write(reasoning[len(self.reasoning):] + END_THINK + answer)
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
