"""An engine that replays how a model family writes, through the family's real tokenizer, so that thinking
counts, budgets, forced closes, probes, stream splits and `reasoning_tokens` can be checked against exact
numbers on real formats (random-weight stand-ins never close their thinking).

The scripted model is a function of its prefix, as a real one is: inside thinking it continues the
script's thinking from where the prefix's own script tokens end (after a method injected text, it writes
`resume` and closes); after the closing marker it writes the script's answer; after a probe's inducer
it states the answer. Every token is certain (logprob 0), so DEER's confidence is 1.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from brevity.engines.base import Completion, EngineCapabilityError, ProgressFn, Request, finish_row
from brevity.formats import ModelFormat, resolve_format


@dataclass(frozen=True)
class Script:
    """What the model writes for every question: its thinking, then its answer (after the closing marker
    and the format's `after_close`), and the value a probe gets."""

    thinking: str
    answer: str
    value: str = "5"
    resume: str = "\nSo the result stands.\n"  # written after text a method injected into thinking


R1_STYLE = Script(
    thinking="Okay, I need to add 2 and 3.\n2 + 3 = 5.\nWait, let me double-check: 2 + 3 is 5.\n"
             "Hmm, yes, 5.\nWait, is there a trick? No.\nSo the answer is 5.\n",
    answer="The sum of 2 and 3 is 5.\n\n**Final Answer**\n\\[\n\\boxed{5}\n\\]",
)
HARMONY_STYLE = Script(
    thinking="We need 2 + 3. That is 5.\nWait, check: 2 + 3 = 5.\nYes.",
    answer="The answer is \\boxed{5}.",
)


def script_for(fmt: ModelFormat) -> Script:
    return HARMONY_STYLE if fmt.name == "gpt-oss" else R1_STYLE


class ScriptedEngine:
    """The engine protocol over a scripted model (see the module docstring)."""

    name = "scripted"
    parallel_calls = 1

    def __init__(self, folder: str | Path, script: Script | None = None, reasoning_format: str | None = None,
                 tokenizer=None):
        """`folder` is a model folder, or only a name where `tokenizer` (with its chat template) is given."""
        from transformers import AutoTokenizer

        self.model_path = Path(folder)
        self.model_name = self.model_path.name
        self.tokenizer = tokenizer if tokenizer is not None else AutoTokenizer.from_pretrained(folder)
        self.format = resolve_format(self.tokenizer, None if tokenizer is not None else folder, reasoning_format)
        self.script = script or script_for(self.format)
        self.cache = None
        fmt, s = self.format, self.format.spec
        self.eos = min(fmt.stop_ids)
        # What the model writes after its generation prompt when left alone (Qwen3 writes "<think>\n"): a line
        # break after the opening marker where the family's template puts one (its off form) or a <think> tag.
        self.lead = "\n" if (s.open == "<think>" or s.off_form.startswith(s.open + "\n")) and not s.prompt_opens else ""
        self.opener = "" if s.prompt_opens else s.open + self.lead
        opener = self.opener
        self.full = fmt.encode(f"{opener}{self.script.thinking}{s.close}{s.after_close}{self.script.answer}")
        self.full.append(self.eos)
        self.calls = 0

    @contextmanager
    def recording(self) -> Iterator[list[Request]]:
        """Every Request the engine is asked for while the block runs, in order (to check what a method sent)."""
        seen: list[Request] = []

        def spy(reqs, progress=None):
            seen.extend(reqs)
            return ScriptedEngine.complete(self, reqs, progress)

        self.complete = spy
        try:
            yield seen
        finally:
            del self.complete

    def generation_config_eos(self) -> set[int]:
        """The eos ids the family's generation_config.json lists."""
        import json

        eos = json.loads((self.model_path / "generation_config.json").read_text()).get("eos_token_id")
        return set(eos if isinstance(eos, list) else [eos])

    def model(self):
        raise EngineCapabilityError("the scripted engine has no network")

    def encode(self, text: str) -> list[int]:
        return self.format.encode(text)

    def decode(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=False)

    def complete(self, requests: list[Request], progress: ProgressFn | None = None) -> list[Completion]:
        out = [self._one(r) for r in requests]
        self.calls += 1
        if progress:
            progress(len(requests))
        return out

    def continuation(self, prompt: list[int]) -> list[int]:
        """What the scripted model writes after `prompt` (unbounded; the request's limits cut it)."""
        fmt, s = self.format, self.format.spec
        text = self.decode(prompt)
        if s.inducer and text.endswith(s.inducer):
            return fmt.encode(f"{self.script.value}{s.answer_end}")
        start = self._generation_start(prompt)
        written = prompt[start:]
        k = 0
        while k < len(written) and k < len(self.full) and written[k] == self.full[k]:
            k += 1
        if k == len(written):  # the model's own text so far: go on with the script
            return self.full[k:]
        tail = self.decode(written)
        if s.close in tail:  # a method closed thinking: answer (after the format's separator, unless prefilled)
            sep = "" if tail.endswith(s.close + s.after_close) else s.after_close
            return fmt.encode(f"{sep}{self.script.answer}") + [self.eos]
        return fmt.encode(f"{self.script.resume}{s.close}{s.after_close}{self.script.answer}") + [self.eos]

    def _generation_start(self, prompt: list[int]) -> int:
        """Where the model's own writing starts: right after the rendered generation prompt (thinking on),
        found as the first occurrence of its last tokens (a single-turn chat has one; harmony's closing
        marker repeats them later)."""
        fmt = self.format
        text = fmt.render([{"role": "user", "content": "Brevity"}])
        tail = fmt.encode(text[text.rfind("Brevity") + len("Brevity"):])[-3:]
        for i in range(len(prompt) - len(tail) + 1):
            if prompt[i:i + len(tail)] == tail:
                return i + len(tail)
        return len(prompt)

    def _one(self, r: Request) -> Completion:
        prompt = list(r.prompt) if not isinstance(r.prompt, str) else self.encode(r.prompt)
        if r.thinking_budget is not None:
            raise EngineCapabilityError("the scripted engine has no native thinking budget")
        toks = self.continuation(prompt)[:max(0, r.max_tokens)]
        toks, text, finish, stop_reason, tail = finish_row(toks, self.format.stop_ids, r.stop, self.decode,
                                                           r.keep_stop)
        if r.sink is not None and getattr(r.sink, "wants_text", False):
            r.sink.write(text + tail)
        return Completion(prompt_ids=prompt, token_ids=toks, text=text, finish_reason=finish,
                          stop_reason=stop_reason, stop_tail=tail, logprobs=[0.0] * len(toks) if r.logprobs else None)
