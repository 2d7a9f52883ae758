"""Which format a model folder speaks: named explicitly, recorded in its manifest, or read from its chat
template (rendered, not pattern-matched alone) and its generation_config.json."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from brevity.errors import BrevityError
from brevity.formats.base import ModelFormat, ReasoningFormat
from brevity.formats.catalog import FORMATS

PROBE = "Brevity format probe"


def format_names() -> list[str]:
    return list(FORMATS)


def get_format(name: str) -> ReasoningFormat:
    if name not in FORMATS:
        raise BrevityError(f"unknown format {name!r}; choose one of {', '.join(FORMATS)}")
    return FORMATS[name]


def template_of(tokenizer: Any) -> str:
    t = getattr(tokenizer, "chat_template", None) or ""
    if isinstance(t, dict):  # several named templates: the default one renders chats
        t = t.get("default") or next(iter(t.values()), "")
    return t


def _generation_prompt(tokenizer: Any, **kwargs: Any) -> str:
    """What the template appends after a user turn when asked to generate."""
    msgs = [{"role": "user", "content": PROBE}]
    text = tokenizer.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True, **kwargs)
    return text[text.rfind(PROBE) + len(PROBE):]


def detect(tokenizer: Any) -> tuple[ReasoningFormat, str]:
    """The format a tokenizer's chat template speaks, and why."""
    template = template_of(tokenizer)
    if not template:
        return FORMATS["plain"], "no chat template"
    for f in FORMATS.values():
        if f.template is not None and template.strip() == f.template.strip():
            return f, f"the chat template is the {f.name} format's own"
    if "<|channel|>" in template and "analysis" in template and "final" in template:
        return FORMATS["gpt-oss"], "the template writes harmony channels (analysis, final)"
    if "</think>" not in template:
        return FORMATS["plain"], "the chat template has no </think>: no thinking section"
    try:  # thinking asked for, as render() asks (llama.cpp's edited R1 and QwQ copies close it otherwise)
        gen = _generation_prompt(tokenizer, enable_thinking=True)
    except Exception as e:  # noqa: BLE001
        raise BrevityError(f"the model's chat template does not render a one-message chat: {e}") from None
    opens = gen.rstrip().endswith("<think>")
    if "<｜Assistant｜>" in template:
        if not opens:
            return FORMATS["deepseek-r1"], ("DeepSeek markers (<｜Assistant｜>); note: this template does not open "
                                            "<think> in its generation prompt")
        return FORMATS["deepseek-r1"], "DeepSeek markers (<｜Assistant｜>) and a generation prompt that opens <think>"
    if "enable_thinking" in template and not opens:
        try:
            off = _generation_prompt(tokenizer, enable_thinking=False)
        except Exception:  # noqa: BLE001
            off = ""
        if "</think>" in off:
            name = "smollm3" if "/no_think" in template else "qwen3"
            return FORMATS[name], "the model opens <think> itself; enable_thinking=false renders a closed block"
    if opens and "<|im_start|>" in template:
        return FORMATS["qwq"], "ChatML with a generation prompt that opens <think> (QwQ)"
    spec = replace(FORMATS["think"], prompt_opens=opens)
    why = "generic <think>...</think>; the generation prompt " + ("opens" if opens else "does not open") + " it"
    if "enable_thinking" in template:
        try:
            off = _generation_prompt(tokenizer, enable_thinking=False)
        except Exception:  # noqa: BLE001
            off = gen
        if off != gen and "</think>" in off:
            spec, why = replace(spec, switch="enable_thinking"), why + "; enable_thinking=false closes it"
    return spec, why


def _check_named(tokenizer: Any, spec: ReasoningFormat) -> None:
    """A named format must match what the model's template renders, or every count would be off."""
    if not spec.thinks or spec.template is not None or not template_of(tokenizer):
        return
    gen = _generation_prompt(tokenizer, enable_thinking=True).rstrip()
    if spec.prompt_opens and not gen.endswith(spec.open):
        raise BrevityError(f"format {spec.name} expects the generation prompt to open {spec.open}, but this model's "
                           "template does not; check `brevity formats show MODEL` without --format")
    if spec.switch and spec.close not in _generation_prompt(tokenizer, **{spec.switch: False}):
        raise BrevityError(f"format {spec.name} turns thinking off with {spec.switch}, which this model's template "
                           "ignores; check `brevity formats show MODEL` without --format")


def stop_ids(tokenizer: Any, folder: Path | None, spec: ReasoningFormat) -> frozenset[int]:
    """Every id that ends a turn: generation_config.json's eos ids (Qwen3 lists two), the tokenizer's eos,
    and the format's own stop tokens."""
    ids: set[int] = set()
    if tokenizer.eos_token_id is not None:
        ids.add(int(tokenizer.eos_token_id))
    if folder is not None and (folder / "generation_config.json").is_file():
        try:
            eos = json.loads((folder / "generation_config.json").read_text()).get("eos_token_id")
        except (OSError, ValueError):
            eos = None
        if isinstance(eos, int):
            ids.add(eos)
        elif isinstance(eos, list):
            ids.update(int(x) for x in eos)
    vocab = tokenizer.get_vocab()
    ids.update(vocab[t] for t in spec.stop_tokens if t in vocab)
    return frozenset(ids)


def _manifest(folder: Path | None) -> dict:
    if folder is None or not (folder / "manifest.json").is_file():
        return {}
    try:
        return json.loads((folder / "manifest.json").read_text())
    except (OSError, ValueError):
        return {}


def manifest_format(folder: Path | None) -> str | None:
    return _manifest(folder).get("format")


ANSWER_STYLE = ("inducer", "answer_end")  # what a model folder may say about how its own answers read


def manifest_answer_style(folder: Path | None) -> dict[str, str]:
    """How the model states its answer, when it differs from its family's (`answer_style` in manifest.json): a
    probe must induce the answer the way the model writes it, or its confidence measures an unfamiliar text."""
    style = _manifest(folder).get("answer_style") or {}
    unknown = sorted(set(style) - set(ANSWER_STYLE))
    if unknown or not all(isinstance(v, str) and v for v in style.values()):
        raise BrevityError(f"{folder}/manifest.json: answer_style takes non-empty strings for "
                           f"{', '.join(ANSWER_STYLE)}; got {style!r}")
    return style


def resolve_format(tokenizer: Any, folder: str | Path | None = None, name: str | None = None,
                   answer_tokens: int | None = None) -> ModelFormat:
    """The model's format bound to its tokenizer: `name` if given, else its manifest's, else detected."""
    folder = Path(folder) if folder else None
    if name:
        spec, why = get_format(name), "named explicitly"
        if name == "think":
            found = detect(tokenizer)[0]
            switch = found.switch if found.name == "think" else None
            spec = replace(spec, prompt_opens=found.prompt_opens, switch=switch)
        _check_named(tokenizer, spec)
    elif (recorded := manifest_format(folder)) is not None:
        spec, why = get_format(recorded), "recorded in the model's manifest.json"
    else:
        spec, why = detect(tokenizer)
    if style := manifest_answer_style(folder):
        spec, why = replace(spec, **style), f"{why}; answer style from manifest.json"
    fmt = ModelFormat(spec, tokenizer, stop_ids(tokenizer, folder, spec), why)
    fmt.check_markers()
    return fmt.with_answer_tokens(answer_tokens)


def load_format(folder: str | Path, name: str | None = None, answer_tokens: int | None = None) -> ModelFormat:
    """Resolve from a model folder (its tokenizer only; no weights are loaded)."""
    from transformers import AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(folder)
    except (OSError, ValueError) as e:
        raise BrevityError(f"cannot load a tokenizer from {folder}: {e}") from None
    return resolve_format(tok, folder, name, answer_tokens)
