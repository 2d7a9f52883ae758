"""A reasoning format: how one model family writes its reasoning, and the one place that knows it.

R1 distills and QwQ get `<think>\\n` from their template and close with `</think>`; Qwen3 opens its own
`<think>` and has an `enable_thinking` switch; gpt-oss writes harmony's `analysis` and `final`
channels. Methods, the bench and the server never write a marker or a prompt string themselves: they
ask a `ModelFormat` (a format bound to a model's tokenizer) to render, split and count.
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from brevity.errors import BrevityError


@dataclass(frozen=True, kw_only=True)
class TemplateControls:
    """How a chat template turns thinking on and off and takes an effort level: what `formats.infer` reads from a
    template, and what a ReasoningFormat carries (one declaration for both)."""

    switch: str | None = None  # the chat-template kwarg that turns thinking on and off (Qwen3: enable_thinking)
    switch_on: Any = True  # its values (Hy3: reasoning_effort "high" / "no_think"; Seed-OSS: thinking_budget -1 / 0)
    switch_off: Any = False
    switch_closes: bool = True  # the off value renders a closed section itself (else thinking off also prefills one)
    on_form: str = ""  # what the generation prompt ends with when the switch is on, where it differs from off
    off_form: str = ""  # what it ends with when the switch is off: the template's own thinking-off form
    effort: str | None = None  # a template kwarg for reasoning effort (gpt-oss, Hy3, Solar, Kimi-K3)
    effort_levels: tuple[str, ...] = ()  # the levels it takes that render differently
    end_of_turn: str | None = None  # the marker that ends an assistant turn, as the template writes it


@dataclass(frozen=True)
class ReasoningFormat(TemplateControls):
    """The markers and phrases of one family. Text fields are what the model itself would write."""

    name: str
    about: str
    open: str | None = "<think>"  # opens the thinking section; None: the format has no thinking section
    close: str | None = "</think>"
    prompt_opens: bool = True  # the generation prompt already ends inside thinking (R1, QwQ, the zoo)
    exit_text: str = "\n"  # what the model writes just before the close marker
    after_close: str = "\n\n"  # what it writes between the close marker and the answer
    # What a budget injects inside thinking when it runs out, before the close marker (Qwen3's recipe).
    forced_close: str = ("\n\nConsidering the limited time by the user, I have to give the solution based on the "
                         "thinking directly now.\n")
    nothink_text: str = "Okay, I think I have finished thinking.\n"  # NoThinking's prefill (Ma et al. 2025)
    inducer: str = "**Final Answer**\n\\boxed{"  # after the close, makes the model state its answer (probes)
    answer_end: str = "}"  # a probe's answer ends here
    answer_tokens: int = 512  # room for the answer after a forced close
    instruction: str = "Please reason step by step, and put your final answer within \\boxed{}."
    vllm_parser: str | None = "deepseek_r1"  # vLLM's --reasoning-parser for this family
    template: str | None = None  # a format that owns its chat template exactly (the zoo's)
    stop_tokens: tuple[str, ...] = ()  # stop strings that are tokens, besides generation_config's eos ids

    @property
    def thinks(self) -> bool:
        return self.close is not None

    def describe(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k not in ("template",)}


EFFORT_ORDER = ("none", "no_think", "minimal", "low", "medium", "high", "xhigh", "max")
# The facts a chat template decides (and `formats.infer` reads off it), as opposed to the phrasing a named format
# refines.
STRUCTURE = ("open", "close", "prompt_opens", "switch", "switch_on", "switch_off", "switch_closes", "on_form",
             "off_form", "effort", "effort_levels", "end_of_turn")


@dataclass
class Split:
    """A completion cut into its thinking and answer (markers and the final stop token left out)."""

    thinking_ids: list[int]
    answer_ids: list[int]
    closed: bool  # False when the completion never left the thinking section
    answer_start: int = 0  # index in the completion of the first answer token (aligns per-token logprobs)


class Recent:
    """The last `size` results of a pure function of hashable keys, for work a request repeats on its way: the
    gateway renders and counts a prompt, then the method renders and encodes the same prompt again."""

    def __init__(self, size: int = 64):
        self.size, self.items, self.lock = size, OrderedDict(), threading.Lock()

    def get(self, key, make):
        with self.lock:
            if key in self.items:
                self.items.move_to_end(key)
                return self.items[key]
        value = make()
        with self.lock:
            self.items[key] = value
            if len(self.items) > self.size:
                self.items.popitem(last=False)
        return value


@dataclass
class ModelFormat:
    """A format bound to one model's tokenizer: renders prompts, splits completions, knows the stop ids."""

    spec: ReasoningFormat
    tokenizer: Any
    stop_ids: frozenset[int]
    why: str = ""  # how the format was resolved (shown by `brevity formats show`)
    evidence: tuple[tuple[str, str], ...] = ()  # (fact, the rendering that showed it), from formats.infer
    answer_tokens: int = 0
    _cache: dict = field(default_factory=dict, repr=False)
    _recent: Recent = field(default_factory=Recent, repr=False)  # prompts: encoded and rendered

    def __post_init__(self) -> None:
        self.answer_tokens = self.answer_tokens or self.spec.answer_tokens

    @property
    def name(self) -> str:
        return self.spec.name

    def with_answer_tokens(self, n: int | None) -> ModelFormat:
        if n is None:
            return self
        if n <= 0:
            raise BrevityError(f"--answer-tokens must be positive, got {n}")
        return replace(self, answer_tokens=n, _cache={})

    # Token ids --------------------------------------------------------------------------------
    def encode(self, text: str) -> list[int]:
        """Token ids of a text; markers and phrases (short, asked for again and again) are cached for good,
        prompts among the last few."""
        if text in self._cache:
            return list(self._cache[text])
        if len(text) > 256:
            return list(self._recent.get(("encode", text), lambda: tuple(self._tokenize(text))))
        ids = self._tokenize(text)
        if len(self._cache) < 4096:
            self._cache[text] = ids
        return list(ids)

    def _tokenize(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False).input_ids)

    @property
    def open_ids(self) -> list[int]:
        return self.encode(self.spec.open) if self.spec.open else []

    @property
    def close_ids(self) -> list[int]:
        return self.encode(self.spec.close) if self.spec.close else []

    def check_markers(self) -> None:
        """Markers must tokenize the same inside a text as alone, or splitting by ids would miss them. A phrase
        marker (Apriel's "Here are my reasoning steps:") merges with the punctuation before it in most BPE
        vocabularies; its templates write it on a line of its own, so stability after a line break is enough."""
        for marker in (self.spec.open, self.spec.close):
            if marker is None or (marker == self.spec.open and self.spec.prompt_opens):
                continue  # an opening the prompt writes is never searched for in what the model writes
            ids = self.encode(marker)
            contexts = [f"Hello.{marker}\n\nOkay"] + ([f"Hello.\n{marker}\n\nOkay"] if marker[:1].isalnum() else [])
            if not ids or all(_find(self.encode(c), ids, 0) is None for c in contexts):
                raise BrevityError(f"format {self.name}: the marker {marker!r} is not a stable token sequence in "
                                   "this model's vocabulary; name the model's own format with --format")

    def require_thinking(self, what: str) -> None:
        """One-line refusal for a thinking method on a model whose format has no thinking section."""
        if not self.spec.thinks:
            raise BrevityError(f"{what} steers thinking, but this model's format ({self.name}) has no thinking "
                               "section; use cot, or name a format with --format")

    # Rendering --------------------------------------------------------------------------------
    def question(self, question: str, instruct: bool = True) -> str:
        """A benchmark question with the family's answer instruction (R1, Qwen: put it in \\boxed{});
        `instruct=False` for a request with no final answer to grade (a safety prompt is asked as written)."""
        return f"{question}\n{self.spec.instruction}" if self.spec.instruction and instruct else question

    def messages(self, question: str, system: str | None = None, instruct: bool = True) -> list[dict[str, str]]:
        """A benchmark question as chat messages."""
        user = self.question(question, instruct)
        return ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": user}]

    def render(self, messages: Sequence[dict], thinking: bool = True, steer: bool = False,
               **template_kwargs: Any) -> str:
        """The prompt through the model's own chat template. `thinking=False` turns thinking off the family's
        way (its switch, else a prefilled closed section); `steer=True` also opens the section when the
        model would open it itself, so that a method counts and caps thinking from its first token."""
        try:  # a served request is rendered by the gateway, then by its method: the second time is a lookup
            # (keyed by day too: some templates write today's date, through strftime_now)
            key = ("render", time.strftime("%Y-%m-%d"),
                   json.dumps([messages, thinking, steer, template_kwargs], sort_keys=True))
        except (TypeError, ValueError):  # not JSON (a caller's own objects): rendered each time
            return self._render(messages, thinking, steer, template_kwargs)
        return self._recent.get(key, lambda: self._render(messages, thinking, steer, template_kwargs))

    def _render(self, messages: Sequence[dict], thinking: bool, steer: bool, template_kwargs: dict) -> str:
        tok = self.tokenizer
        if not getattr(tok, "chat_template", None):
            raise BrevityError("this model's tokenizer has no chat template; give the folder one "
                               "(chat_template.jinja) so that prompts are rendered the model's own way")
        s = self.spec
        kwargs = dict(template_kwargs)
        if s.switch and not (thinking and s.switch in (s.effort, "thinking_budget") and s.switch in kwargs):
            kwargs[s.switch] = s.switch_on if thinking else s.switch_off  # (an effort level asked for stays)
        try:
            text = tok.apply_chat_template(list(messages), tokenize=False, add_generation_prompt=True, **kwargs)
        except Exception as e:  # noqa: BLE001  (a template refusing these messages: the caller's to fix)
            raise BrevityError(f"the model's chat template rejected these messages: {e}") from None
        if not thinking:
            if s.thinks and not (s.switch and s.switch_closes):
                text += self.off_prefill()
        elif steer and s.thinks and not s.prompt_opens:
            text += s.open
        return text

    def check_switch(self, template_kwargs: dict[str, Any], thinking: bool) -> None:
        """A template kwarg the caller passes that is the template's own thinking switch (`thinking`,
        `thinking_mode`, `reasoning_effort` ...) must agree with whether the method thinks: `render` sets the
        switch, and would otherwise overwrite the caller's value silently."""
        s = self.spec
        if not s.switch or s.switch not in template_kwargs:
            return
        value = template_kwargs[s.switch]
        off = value == s.switch_off and type(value) is type(s.switch_off)
        if off == thinking or (not off and value != s.switch_on and s.switch not in (s.effort, "thinking_budget")):
            raise BrevityError(f"chat_template_kwargs.{s.switch} is this model's thinking switch (on {s.switch_on!r}, "
                               f"off {s.switch_off!r}); {value!r} disagrees with thinking "
                               f"{'on' if thinking else 'off'}: turn thinking off with enable_thinking, or drop it")

    def template_effort(self, effort: str | None, budget: int | None = None) -> dict[str, Any]:
        """The template's own kwargs for a request's effort (gpt-oss's `reasoning_effort`, Kimi-K3's
        `thinking_effort`: the nearest level it takes) or budget (Seed-OSS's `thinking_budget`), beside the budget
        the method enforces; empty where the template has no such kwarg."""
        s = self.spec
        if budget is not None and budget > 0 and s.switch == "thinking_budget":
            return {"thinking_budget": budget}
        if not effort or not s.effort or not s.effort_levels or effort == "none":
            return {}
        rank = {level: i for i, level in enumerate(EFFORT_ORDER)}
        want = rank.get(effort, rank["medium"])
        return {s.effort: min(s.effort_levels, key=lambda lv: (abs(rank.get(lv, want) - want), -rank.get(lv, 0)))}

    def off_prefill(self) -> str:
        """A closed, empty thinking section written for the model (NoThinking), where the template has no switch
        that closes thinking itself."""
        s = self.spec
        if not s.thinks:
            return ""
        opener = "" if s.prompt_opens else s.open
        return f"{opener}{s.nothink_text}{s.close}{s.after_close}"

    def thinking_off(self, prompt: str) -> str:
        """A prompt the client rendered itself (thinking on), turned off: the template's own off form where its
        switch has one (Qwen3's `<think>\n\n</think>\n\n`, in place of what the on side ends with), else the
        NoThinking prefill."""
        s = self.spec
        if not s.thinks:
            return prompt
        if s.switch and s.switch_closes and s.off_form:
            on = s.on_form.rstrip()
            return (prompt.rstrip()[:-len(on)] if on and prompt.rstrip().endswith(on) else prompt) + s.off_form
        return prompt + self.off_prefill()

    def probe_suffix(self) -> list[int]:
        """What a probe appends to a thought: leave thinking, then ask for the answer."""
        s = self.spec
        return self.encode(s.exit_text) + self.close_ids + self.encode(s.after_close + s.inducer)

    # Splitting --------------------------------------------------------------------------------
    def split(self, ids: Sequence[int]) -> Split:
        """Thinking and answer of a completion that continues a rendered prompt (vLLM's reasoning parsers
        split the same way); formats/splitter.py cuts text by the same rule. A model-written opening marker (at the
        start, blanks aside) is neither thinking nor answer; a completion that does not start with it, where the
        model opens thinking, is an answer."""
        ids = list(ids)
        if not self.spec.thinks:
            return Split([], self.strip_stop(ids), True, 0)
        start = 0
        if not self.spec.prompt_opens:
            o = _find(ids, self.open_ids, 0)
            if o is None or self.tokenizer.decode(ids[:o], skip_special_tokens=False).strip():
                return Split([], self.strip_stop(ids), True, 0)  # the model did not open thinking: it answered
            start = o + len(self.open_ids)
        c = _find(ids, self.close_ids, start)
        if c is None:
            return Split(ids[start:], [], False, len(ids))
        answer_start = c + len(self.close_ids)
        return Split(ids[start:c], self.strip_stop(ids[answer_start:]), True, answer_start)

    def strip_stop(self, ids: Sequence[int]) -> list[int]:
        """An answer without the token that ended the turn."""
        ids = list(ids)
        return ids[:-1] if ids and ids[-1] in self.stop_ids else ids

    def count_thinking(self, ids: Sequence[int]) -> int:
        return len(self.split(ids).thinking_ids)

def _find(ids: list[int], pattern: list[int], start: int) -> int | None:
    if not pattern:
        return None
    n = len(pattern)
    for i in range(start, len(ids) - n + 1):
        if ids[i] == pattern[0] and ids[i:i + n] == pattern:
            return i
    return None
