"""Reading a reasoning format off a chat template by rendering it, not by matching its text.

Why: real templates write thinking in a dozen ways (`<think>`, `[THINK]`, `<seed:think>`, Gemma 4's
`<|channel>thought`, harmony's channels, markers built by macros) and switch it with different kwargs
(`enable_thinking`, `thinking`, `thinking_mode`, `reasoning_effort`, `thinking_budget` ...). The template is
the authority on all of it, so every structural fact is read from what it renders:

- the markers: an assistant turn carrying a known thought (as `reasoning_content`, `reasoning`, `thinking`,
  `thought`, or a thinking content block) is rendered after a user turn, and the text around the thought is
  read: what the generation prompt lacks before it is the opening marker, what stands between it and the
  known answer is the closing one;
- whether the generation prompt opens thinking, under the setting that turns thinking on;
- the switch: each kwarg the template reads is tried with on and off values, and the first one that turns a
  thinking prompt into a closed (or unopened) one is kept; the off form is what the template renders then;
- effort: a kwarg such as `reasoning_effort` whose levels change the rendering;
- the end of an assistant turn (a stop token), read after the known answer.

Each fact keeps the rendering that showed it (`evidence`), for `brevity formats show`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from brevity.formats.base import TemplateControls

QUESTION = "Brevity question 7341"
THOUGHT = "Brevity thought 5512"
ANSWER = "Brevity answer 9047"

# kwargs that switch thinking, most common first; any other variable the template reads whose name says
# think, reason or effort is tried after these.
SWITCHES = ("enable_thinking", "thinking", "thinking_mode", "enable_reasoning", "reasoning", "reasoning_effort",
            "thinking_effort", "thinking_budget")
ON_VALUES: tuple[Any, ...] = (True, "enabled", "on", "high", "max", "medium", -1)
OFF_VALUES: tuple[Any, ...] = (False, "disabled", "off", "none", "no_think", "minimal", "low", 0)
EFFORTS = ("reasoning_effort", "thinking_effort", "thinking_level")
EFFORT_LEVELS = ("none", "no_think", "minimal", "low", "medium", "high", "xhigh", "max")

# Where a past assistant turn may carry its thinking, as templates in the corpus read it.
_SHAPES: tuple[Callable[[], dict], ...] = (
    lambda: {"role": "assistant", "reasoning_content": THOUGHT, "content": ANSWER},
    lambda: {"role": "assistant", "reasoning": THOUGHT, "content": ANSWER},
    lambda: {"role": "assistant", "thinking": THOUGHT, "content": ANSWER},
    lambda: {"role": "assistant", "thought": THOUGHT, "content": ANSWER},
    lambda: {"role": "assistant", "content": [{"type": "thinking", "thinking": THOUGHT},
                                              {"type": "text", "text": ANSWER}]},
    lambda: {"role": "assistant", "content": {"blocks": [{"type": "thoughts", "text": THOUGHT},
                                                         {"type": "response", "text": ANSWER}]}},
)
_TAG = re.compile(r"(<\|?[^<>\s|]*\|?>|\[/?[A-Z_]+\])\Z")  # one marker-like tag at the end of a text
_OPEN_TAG = re.compile(r"<\|?[^<>\s|/]*\|?>|\[[A-Z_]+\]")  # a tag that is not a closing one
Render = Callable[..., str]  # render(messages, add_generation_prompt=..., **kwargs) -> text


@dataclass(frozen=True, kw_only=True)
class Inferred(TemplateControls):
    """What a template renders about thinking. `open`/`close` are None when no rendering shows a section."""

    open: str | None = None
    close: str | None = None
    exit_text: str = ""
    after_close: str = ""
    prompt_opens: bool = False
    evidence: tuple[tuple[str, str], ...] = field(default_factory=tuple)

    @property
    def thinks(self) -> bool:
        return self.close is not None


def template_variables(template: str) -> list[str]:
    """Names the template reads without defining them (its kwargs); where jinja cannot parse it alone (a
    `{% generation %}` tag), the identifiers that name thinking, reasoning or effort."""
    import jinja2
    import jinja2.ext
    from jinja2 import meta

    try:
        env = jinja2.Environment(extensions=[jinja2.ext.loopcontrols])
        return sorted(meta.find_undeclared_variables(env.parse(template)))
    except jinja2.TemplateError:
        return sorted(set(re.findall(r"\b(\w*(?:think|reason|effort)\w*)\b", template, re.I)))


def renderer(template: str, **specials: Any) -> Render:
    """A renderer for a bare template string (transformers' own jinja environment)."""
    from transformers.utils.chat_template_utils import render_jinja_template

    specials = {"bos_token": "<s>", "eos_token": "</s>", **specials}

    def render(messages: list[dict], add_generation_prompt: bool = True, **kwargs: Any) -> str:
        out = render_jinja_template([messages], chat_template=template, add_generation_prompt=add_generation_prompt,
                                    **specials, **kwargs)
        return out[0][0]

    return render


def tokenizer_renderer(tokenizer: Any) -> Render:
    def render(messages: list[dict], add_generation_prompt: bool = True, **kwargs: Any) -> str:
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=add_generation_prompt,
                                             **kwargs)

    return render


class _Probe:
    """Renders once per distinct call; a template that refuses a call gives None."""

    def __init__(self, render: Render) -> None:
        self.render = render
        self.memo: dict[Any, str | None] = {}

    def __call__(self, messages: list[dict], gen: bool, **kwargs: Any) -> str | None:
        key = (repr(messages), gen, repr(sorted(kwargs.items())))
        if key not in self.memo:
            try:
                self.memo[key] = self.render(messages, add_generation_prompt=gen, **kwargs)
            except Exception:  # noqa: BLE001  (a template raising on a value: that value is not one it takes)
                self.memo[key] = None
        return self.memo[key]

    def gen(self, **kwargs: Any) -> str | None:
        """The generation prompt after the user's text."""
        text = self([{"role": "user", "content": QUESTION}], True, **kwargs)
        return None if text is None or QUESTION not in text else text[text.rindex(QUESTION) + len(QUESTION):]


def _aligned(a: str, b: str) -> int:
    """The common prefix of two renderings, moved back so that it never ends inside a marker: not inside a
    tag (`<think>` against `</think>`), and not between a tag and the word it names (`<|open|>think`)."""
    n = len(os.path.commonprefix([a, b]))
    head = a[:n]
    cut = max(head.rfind("<"), head.rfind("["))
    if cut > max(head.rfind(">"), head.rfind("]")):
        return cut
    rest = a[n:] or b[n:]
    if rest[:1].isalnum() and (m := _TAG.search(head)):
        return m.start()
    return n


def _tags(text: str) -> list[str]:
    """A closed empty section split into its markers: by whitespace (`<|channel>thought\\n<channel|>`), and
    adjacent tags apart (`<think></think>`)."""
    out: list[str] = []
    for piece in text.split():
        parts = re.findall(r"<[^<>]*>|\[[^\[\]]*\]|[^<\[]+", piece)
        out.extend(parts if all(p[0] in "<[" for p in parts) else [piece])
    return out


def _closes(form: str, open_: str, close: str) -> bool:
    """A rendering closes thinking: it writes the closing marker, or a part of the closing sequence (Cohere's
    `<|END_THINKING|>` before the model's `<|START_TEXT|>`, Kimi's `<|open|>response<|sep|>` after its
    `<|close|>think<|sep|>`)."""
    f = form.strip()
    if open_ and f.startswith(open_):
        f = f[len(open_):].strip()
    return bool(f) and (close in f or close.startswith(f) or close.endswith(f))


def _kw(kwargs: dict) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in kwargs.items()) or "no kwargs"


def _first_piece(tail: str) -> str | None:
    """The marker that ends an assistant turn (`<|im_end|>`, `<｜end▁of▁sentence｜>`), if the turn ends in one."""
    m = re.match(r"\s*(<[^<>\s]+>|\[/?[A-Z_]+\])", tail)
    return m.group(1) if m else None


def _values(name: str) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    """On and off values to try, in the order the kwarg's kind suggests: levels for an effort, modes for a mode,
    a number for a budget, booleans for the rest."""
    if name in EFFORTS:
        return ("high", "max", "medium"), ("none", "no_think", "minimal", "low")
    if name.endswith("_mode"):
        return ("enabled", "on", "high"), ("disabled", "off", "none")
    if name.endswith("_budget"):
        return (-1,), (0,)
    return ON_VALUES, OFF_VALUES


def _candidates(template: str) -> list[str]:
    names = template_variables(template)
    extra = [n for n in names if re.search(r"think|reason|effort", n, re.I) and n not in SWITCHES]
    return [s for s in SWITCHES if s in names] + extra


def _from_turn(probe: _Probe, settings: list[dict]) -> tuple[dict, str] | None:
    """Markers read around a known thought in a rendered assistant turn: the first shape and setting that show it."""
    user = {"role": "user", "content": QUESTION}
    for kwargs in settings:
        g = probe.gen(**kwargs)
        if g is None:
            continue
        for shape in _SHAPES:
            msg = shape()
            text = probe([user, msg], False, **kwargs)
            if not text or THOUGHT not in text or ANSWER not in text:
                continue
            t, a = text.index(THOUGHT), text.rindex(ANSWER)
            q = text.rfind(QUESTION, 0, t)
            if q < 0 or a < t:
                continue
            lead, mid, tail = text[q + len(QUESTION):t], text[t + len(THOUGHT):a], text[a + len(ANSWER):]
            close = mid.strip()
            if not close or re.search(r"['\"{}]", close):  # a content list printed as data, not a section
                continue
            n = _aligned(lead, g)
            lead_rest, g_rest = lead[n:].strip(), g[n:].strip()
            if g_rest and not lead_rest and close not in g_rest and not _closes(g_rest, "", close):
                open_ = g_rest  # only the generation prompt writes the opener (Apriel 1.6's "Here are my ...")
            elif lead_rest and not g_rest:
                open_ = lead_rest  # the turn adds it after the generation prompt: the model writes it
            elif (m := _TAG.search(lead.rstrip())) is not None:
                open_ = m.group(1)
            else:
                continue
            label = ("a thinking content block" if not isinstance(msg["content"], str)
                     else next(k for k in msg if k not in ("role", "content")))
            where = f"an assistant turn with {label}" + (f" rendered with {_kw(kwargs)}" if kwargs else "")
            facts = {"open": open_, "close": close, "exit_text": mid[:len(mid) - len(mid.lstrip())],
                     "after_close": mid[len(mid.rstrip()):], "end_of_turn": _first_piece(tail)}
            return facts, f"{where}: ...{lead[-30:]!r} + thought + {mid!r} + answer"
    return None


def _from_switch(probe: _Probe, cands: list[str]) -> tuple[dict, str] | None:
    """Markers from a kwarg whose off rendering writes an empty closed section (templates that drop past thoughts)."""
    for name in cands:
        ons, offs = _values(name)
        for on in ons:
            g_on = probe.gen(**{name: on})
            if g_on is None:
                continue
            for off in offs:
                g_off = probe.gen(**{name: off})
                if g_off is None or g_off == g_on:
                    continue
                n = _aligned(g_on, g_off)
                tags, on_tag = _tags(g_off[n:]), _TAG.search(g_on.rstrip())
                if len(tags) >= 2:
                    open_, close = tags[-2], tags[-1]
                elif len(tags) == 1 and on_tag and g_on[n:].strip() in ("", on_tag.group(1)):
                    open_, close = on_tag.group(1), tags[0]  # on ends with `<think>`; off writes `</think>` (V3.1)
                else:
                    continue
                if open_ == close:
                    continue
                facts = {"open": open_, "close": close, "exit_text": "", "after_close": g_off[len(g_off.rstrip()):]}
                return facts, f"{name}={off!r} renders {g_off[n:]!r} where {name}={on!r} renders {g_on[n:]!r}"
    return None


def _from_empty_turn(probe: _Probe) -> tuple[dict, str] | None:
    """Markers from the empty closed section a template writes into a past turn that has no thought (Kimi-K2)."""
    g = probe.gen()
    text = probe([{"role": "user", "content": QUESTION}, {"role": "assistant", "content": ANSWER}], False)
    if not g or not text or ANSWER not in text:
        return None
    lead = text[text.rfind(QUESTION) + len(QUESTION):text.rindex(ANSWER)]
    tags = _tags(lead[_aligned(lead, g):])
    if len(tags) == 2 and all(t[0] in "<[" for t in tags) and not _OPEN_TAG.fullmatch(tags[1]):
        return {"open": tags[0], "close": tags[1]}, f"a past assistant turn without a thought renders {lead!r}"
    return None


def _partner(tag: str) -> str | None:
    """The conventional closing form of an opening tag: `<x>` `</x>`, `[X]` `[/X]`, `<|START_X|>` `<|END_X|>`."""
    if m := re.fullmatch(r"<\|START_(\w+)\|>", tag):
        return f"<|END_{m.group(1)}|>"
    if m := re.fullmatch(r"<([\w:]+)>", tag):
        return f"</{m.group(1)}>"
    if m := re.fullmatch(r"\[(\w+)\]", tag):
        return f"[/{m.group(1)}]"
    return None


def _from_text(probe: _Probe, template: str) -> tuple[dict, str] | None:
    """The weakest evidence: an opening tag that ends the generation prompt, or else a pair of thinking tags in the
    template's own text, whose closing form the template writes."""
    g = probe.gen() or ""
    m = _TAG.search(g.rstrip())
    if m and (close := _partner(m.group(1))) and close in template and re.search(r"think|reason", close, re.I):
        return {"open": m.group(1), "close": close}, (f"the generation prompt ends with {m.group(1)!r}, and the "
                                                      f"template's text writes {close!r}")
    for m in re.finditer(r"</([\w:]*(?:think|thought|reason)[\w:]*)>", template, re.I):
        open_ = f"<{m.group(1)}>"
        return {"open": open_, "close": m.group(0)}, (
            f"no rendering shows a section; the template's text writes {m.group(0)!r}"
            + (f" and {open_!r}" if open_ in template
               else f" (and strips what precedes it), so it opens with {open_!r}"))
    return None


def _switch(probe: _Probe, cands: list[str], open_: str, close: str) -> tuple[str, Any, Any, bool] | None:
    """The first kwarg with an on value that leaves thinking to the model and an off value that ends it: its
    rendering closes a section, or it leaves out the opener that the on value writes (Bielik, Reka). Failing that,
    a boolean thinking kwarg that changes the rendering at all (a system-prompt switch, Apertus's `Deliberation:
    enabled`), whose off side still needs a prefilled closed section (the last item False)."""
    for name in cands:
        ons, offs = _values(name)
        for on in ons:
            g_on = probe.gen(**{name: on})
            if g_on is None or close in g_on:
                continue
            opens = g_on.rstrip().endswith(open_)
            for off in offs:
                g_off = probe.gen(**{name: off})
                if g_off is None or g_off == g_on:
                    continue
                off_form = g_off[_aligned(g_on, g_off):]
                if _closes(off_form, open_, close) or (opens and not g_off.rstrip().endswith(open_)):
                    return name, on, off, True
    user = [{"role": "user", "content": QUESTION}]
    for name in cands:
        if name in ("enable_thinking", "thinking", "enable_reasoning"):
            on, off = probe(user, True, **{name: True}), probe(user, True, **{name: False})
            if on is not None and off is not None and on != off:
                return name, True, False, False
    return None


def _effort(probe: _Probe, template: str, cands: list[str], open_: str,
            close: str) -> tuple[str, tuple[str, ...]] | None:
    """A kwarg whose levels (named in the template's own text) each render differently and keep thinking on (a level
    that closes thinking, Hy3's `no_think`, is the switch's business)."""
    user = [{"role": "user", "content": QUESTION}]
    for name in EFFORTS:
        if name not in cands:
            continue
        seen: dict[str, str] = {}
        for level in EFFORT_LEVELS:
            text = probe(user, True, **{name: level})
            if text is None or not (re.search(rf"['\"]{level}['\"]", template)
                                    or level in ("low", "medium", "high") and level in text):
                continue
            tail = probe.gen(**{name: level}) or ""
            if close in tail or open_ in tail and _closes(tail[tail.rindex(open_) + len(open_):], "", close):
                continue  # a level the template names, or one it writes into the prompt (gpt-oss's "Reasoning: low")
            if text is not None and text not in seen.values():
                seen[level] = text
        if len(seen) >= 2:
            return name, tuple(seen)
    return None


def infer(template: str, render: Render) -> Inferred:
    """Every thinking fact the template shows when rendered; `Inferred()` (no section) when none does."""
    probe = _Probe(render)
    if probe.gen() is None:
        from brevity.errors import BrevityError

        raise BrevityError("the chat template does not render a one-message chat (a user turn with a generation "
                           "prompt); give the model a template that does")
    cands = _candidates(template)
    found = (_from_turn(probe, [{}] + [{k: v} for k in cands for v in _values(k)[0]]) or _from_switch(probe, cands)
             or _from_empty_turn(probe) or _from_text(probe, template))
    if found is None:
        return Inferred(evidence=(("thinking", "no rendering shows a thinking section (no known thought in an "
                                   "assistant turn, no kwarg that renders a closed section) and the template's "
                                   "text writes no thinking tags"),))
    facts, why = found
    evidence = [("markers", why)]
    result: dict[str, Any] = {"exit_text": "\n", "after_close": "\n\n", **facts}
    close = result["close"]
    switch = _switch(probe, cands, result["open"], close)
    on_kwargs = {switch[0]: switch[1]} if switch else {}
    g_on = probe.gen(**on_kwargs) or ""
    if switch:
        name, on, off, closes = switch
        g_off = probe.gen(**{name: off}) or ""
        n = _aligned(g_on, g_off)
        on_form = g_on[n:].strip()
        if on_form and g_on.rstrip().endswith(on_form) and _OPEN_TAG.match(on_form) and on_form != result["open"] \
                and on_form.endswith(result["open"]):
            result["open"] = on_form  # the whole opener the switch adds (Kimi's `<|open|>think<|sep|>`)
        result.update(switch=name, switch_on=on, switch_off=off, switch_closes=closes, off_form=g_off[n:],
                      on_form=g_on[n:])
        shows = (f"{name}={on!r} renders {g_on[n:]!r} and {name}={off!r} renders {g_off[n:]!r} after the header"
                 if closes else f"{name} changes the prompt ({name}={off!r} does not close a section: thinking off "
                 "also prefills an empty one)")
        evidence.append(("switch", shows))
    else:
        evidence.append(("switch", "none: no kwarg the template reads (" + (", ".join(cands) or "none") + ") closes "
                         "thinking; thinking off prefills an empty closed section"))
    result["prompt_opens"] = g_on.rstrip().endswith(result["open"])
    evidence.append(("prompt opens thinking", ("yes" if result["prompt_opens"] else "no") + ": the generation prompt"
                     + (f" with {_kw(on_kwargs)}" if on_kwargs else "") + f" ends {g_on[-30:]!r}"))
    if effort := _effort(probe, template, cands, result["open"], close):
        result.update(effort=effort[0], effort_levels=effort[1])
        evidence.append(("effort", f"{effort[0]} takes {', '.join(effort[1])} (each renders differently)"))
    if result.get("end_of_turn"):
        evidence.append(("end of turn", f"an assistant turn ends with {result['end_of_turn']!r}"))
    return Inferred(**result, evidence=tuple(evidence))
