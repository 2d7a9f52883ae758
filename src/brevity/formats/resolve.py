"""Which format a model folder speaks: named explicitly, recorded in its manifest, or read from its chat
template (rendered, not pattern-matched alone) and its generation_config.json."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from brevity.errors import BrevityError
from brevity.formats.base import STRUCTURE, ModelFormat, ReasoningFormat
from brevity.formats.catalog import FORMATS
from brevity.formats.infer import Inferred, infer, template_variables, tokenizer_renderer
from brevity.manifest import read_manifest


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


def infer_tokenizer(tokenizer: Any) -> Inferred:
    """What the tokenizer's chat template renders about thinking (`formats.infer`)."""
    return infer(template_of(tokenizer), tokenizer_renderer(tokenizer))


def _family(inf: Inferred, template: str) -> tuple[ReasoningFormat, str]:
    """The named format whose phrasing refines what the template showed: by its markers, and for `<think>` by the
    family's own tokens and switch."""
    for f in FORMATS.values():
        if f.thinks and f.template is None and f.open != "<think>" and (f.open, f.close) == (inf.open, inf.close):
            return f, f"the template's markers are {f.name}'s"
    if inf.open == "<think>" and inf.close == "</think>":
        if "<｜Assistant｜>" in template:
            if inf.switch and (inf.switch == "thinking" or "thinking" in template_variables(template)):
                return FORMATS["deepseek-v3"], "DeepSeek markers (<｜Assistant｜>) and a `thinking` switch (V3.1+)"
            return FORMATS["deepseek-r1"], "DeepSeek markers (<｜Assistant｜>)"
        if not inf.prompt_opens and inf.switch == "enable_thinking" and inf.close in inf.off_form:
            name = "smollm3" if "/no_think" in template else "qwen3"
            return FORMATS[name], "the model opens <think> itself; enable_thinking=false renders a closed block"
        if inf.prompt_opens and "<|im_start|>" in template:
            return FORMATS["qwq"], "ChatML with a generation prompt that opens <think> (QwQ)"
        return FORMATS["think"], "a <think> section"
    return replace(FORMATS["think"], vllm_parser=None), f"a {inf.open} ... {inf.close} section"


def _apply(spec: ReasoningFormat, inf: Inferred) -> ReasoningFormat:
    """A named format with every structural fact as the template renders it."""
    facts = {k: getattr(inf, k) for k in STRUCTURE}
    if spec.name == "think":  # no family phrasing to keep: the template's own whitespace around the close
        facts.update(exit_text=inf.exit_text, after_close=inf.after_close)
    return replace(spec, **facts)


def detect(tokenizer: Any) -> tuple[ReasoningFormat, str]:
    """The format a tokenizer's chat template speaks, and why."""
    spec, why, _ = detect_with_evidence(tokenizer)
    return spec, why


def detect_with_evidence(tokenizer: Any) -> tuple[ReasoningFormat, str, tuple[tuple[str, str], ...]]:
    template = template_of(tokenizer)
    if not template:
        return FORMATS["plain"], "no chat template", ()
    for f in FORMATS.values():
        if f.template is not None and template.strip() == f.template.strip():
            return f, f"the chat template is the {f.name} format's own", ()
    inf = infer_tokenizer(tokenizer)
    if not inf.thinks:
        return FORMATS["plain"], "the chat template renders no thinking section", inf.evidence
    spec, why = _family(inf, template)
    return _apply(spec, inf), why, inf.evidence


def _check_named(tokenizer: Any, spec: ReasoningFormat) -> tuple[ReasoningFormat, tuple[tuple[str, str], ...]]:
    """A named format must match what the model's template renders, or every count would be off: its markers, and
    whether the prompt opens thinking, are checked against the rendering; the switch and the off form are the
    template's."""
    if spec.template is not None or not template_of(tokenizer):
        return spec, ()
    inf = infer_tokenizer(tokenizer)
    if not spec.thinks:
        return spec, inf.evidence
    if not inf.thinks:
        raise BrevityError(f"format {spec.name} has a {spec.open} ... {spec.close} section, but this model's chat "
                           "template renders none; check `brevity formats show MODEL` without --format")
    for fact, theirs in (("open", inf.open), ("close", inf.close), ("prompt_opens", inf.prompt_opens)):
        if getattr(spec, fact) != theirs and not (spec.name == "think" and fact == "prompt_opens"):
            raise BrevityError(f"format {spec.name} says {fact} is {getattr(spec, fact)!r}, but this model's chat "
                               f"template renders {theirs!r}; check `brevity formats show MODEL` without --format")
    if spec.switch and inf.switch is None:
        raise BrevityError(f"format {spec.name} turns thinking off with {spec.switch}, which this model's template "
                           "ignores; check `brevity formats show MODEL` without --format")
    return _apply(spec, inf), inf.evidence


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
    eot = spec.end_of_turn  # the template's end of an assistant turn, unless the thinking markers use it too (Solar)
    if eot in vocab and not any(eot in (m or "") for m in (spec.open, spec.close)):
        ids.add(vocab[eot])
    return frozenset(ids)


def _manifest(folder: Path | None) -> dict:
    return read_manifest(folder)


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
    evidence: tuple[tuple[str, str], ...] = ()
    if name:
        spec, evidence = _check_named(tokenizer, get_format(name))
        why = "named explicitly"
    elif (recorded := manifest_format(folder)) is not None:
        spec, evidence = _check_named(tokenizer, get_format(recorded))
        why = "recorded in the model's manifest.json"
    else:
        spec, why, evidence = detect_with_evidence(tokenizer)
    if style := manifest_answer_style(folder):
        spec, why = replace(spec, **style), f"{why}; answer style from manifest.json"
    fmt = ModelFormat(spec, tokenizer, stop_ids(tokenizer, folder, spec), why, evidence)
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
