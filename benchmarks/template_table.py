"""Which of llama.cpp's real chat templates have a thinking section, and how each opens and switches it.

Why: Brevity's reasoning formats must cover the templates real models ship. This lists every template
in the fetched corpus (llama-cpp-python 0.3.36's `vendor/llama.cpp/models/templates/`, see
scripts/fetch_llama_cpp_models.sh) whose text mentions thinking, with:

- markers: thinking marker strings the template writes (`<think>`, `[THINK]`, `<seed:think>`, harmony's
  `<|channel|>analysis` ...);
- opens: what the default generation prompt (one user message, `add_generation_prompt=True`, no
  kwargs) does after the user's text, judged by its last thinking marker: `open` (ends inside an opened
  thinking block), `closed` (an empty or closing block: thinking off by default), `no` (no marker: the
  model opens it itself, or has no thinking), or `error: ...` when the template does not render so;
- switch: whether `enable_thinking` is in the template and changes that prompt (`yes`), is there but
  changes nothing here (`inert`), or is absent (`no`); other prompt-changing kwargs found are named.

`rows(resolve=...)` takes an optional resolver, `resolve(file_name, template_text) -> str`, whose answer
fills a `format` column: the hook for `brevity.formats` (which format each template resolves to, or why
not). Usage: `python benchmarks/template_table.py [--out docs/results/template_table.md]`.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from pathlib import Path

from transformers.utils.chat_template_utils import render_jinja_template

from brevity.conformance import template_rows
from brevity.conformance.vocab import models_dir

USER = [{"role": "user", "content": "PING-1234"}]
SPECIALS = {"bos_token": "<BOS>", "eos_token": "<EOS>"}
# A marker is a literal that names thinking or reasoning, in <...>, [...] or <|...|> form, or harmony's channel.
MARKER = re.compile(
    r"<\|?[/\w:▁｜-]*(?:think|thought|reason)[\w:▁｜-]*\|?>|\[/?THINK\]|<\|channel\|>analysis|<\|channel>thought", re.I
)
# Opening and closing forms seen in the corpus; a closing form is tried first.
CLOSE = re.compile(r"</(?:\w+:)?think(?:ing)?>|<\|\w*end\w*think\w*\|>|\[/THINK\]|<channel\|>", re.I)
OPEN = re.compile(
    r"<(?:\w+:)?think(?:ing)?>|<\|\w*think\w*\|>|\[THINK\]|<\|channel\|>analysis|<\|channel>thought", re.I
)
# Other kwargs that templates read, each with a value that should change a default prompt if it is a switch.
OTHER_SWITCHES = {
    "thinking": False,
    "reasoning_effort": "low",
    "enable_reasoning": False,
    "thinking_mode": "off",
    "reasoning": False,
}


def thinking_templates(folder: Path | None = None) -> list[Path]:
    """Templates in the corpus whose text mentions thinking (case-insensitive `think`)."""
    folder = folder or models_dir() / "templates"
    return sorted(p for p in folder.glob("*.jinja") if "think" in p.read_text(encoding="utf-8").lower())


def render(template: str, **kwargs) -> str:
    return render_jinja_template([USER], chat_template=template, add_generation_prompt=True, **SPECIALS, **kwargs)[0][0]


def markers(template: str) -> list[str]:
    text = re.sub(r"\{#.*?#\}", "", template, flags=re.S)  # not in comments
    return sorted({m for m in MARKER.findall(text)}, key=str.lower)


def opens(prompt: str) -> str:
    """`open`, `closed` or `no`: the last thinking marker after the user's text in a generation prompt."""
    tail = prompt[prompt.rindex(USER[0]["content"]) + len(USER[0]["content"]) :]
    state = "no"
    for m in re.finditer(f"{CLOSE.pattern}|{OPEN.pattern}", tail, re.I):
        state = "closed" if CLOSE.fullmatch(m.group()) else "open"
    return state


def switch(template: str, default: str) -> str:
    """Whether `enable_thinking` (and other kwargs) change the default generation prompt."""
    found = []
    if "enable_thinking" in template:
        changed = any(_try(template, enable_thinking=v) not in (default, None) for v in (True, False))
        found.append("yes" if changed else "inert")
    else:
        found.append("no")
    for name, value in OTHER_SWITCHES.items():
        if re.search(rf"\b{name}\b", template) and _try(template, **{name: value}) not in (default, None):
            found.append(f"`{name}`")
    return ", ".join(found)


def _try(template: str, **kwargs) -> str | None:
    try:
        return render(template, **kwargs)
    except Exception:
        return None


def rows(folder: Path | None = None, resolve: Callable[[str, str], str] | None = None) -> list[dict[str, str]]:
    """One row per thinking template; `resolve` (when given) fills the `format` column."""
    out = []
    for path in thinking_templates(folder):
        template = path.read_text(encoding="utf-8")
        row = {"template": path.name, "markers": ", ".join(f"`{m}`" for m in markers(template)) or "-"}
        try:
            default = render(template)
        except Exception as e:
            row["opens"], row["switch"] = f"error: {type(e).__name__}: {str(e)[:60]}", "-"
        else:
            row["opens"], row["switch"] = opens(default), switch(template, default)
        if resolve is not None:
            row["format"] = resolve(path.name, template)
        out.append(row)
    return out


def markdown(table: list[dict[str, str]]) -> str:
    cols = list(table[0])
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(r[c].replace("|", "\\|") for c in cols) + " |" for r in table]
    return "\n".join(lines) + "\n"


def format_resolver() -> Callable[[str, str], str]:
    """`brevity.formats` detection on each template, over the Qwen3 stand-in's tokenizer (the detection reads
    the template and renders it; the vocabulary only has to hold the markers for the resolved format's check)."""
    from transformers import AutoTokenizer

    from brevity.conformance.standins import standin_path
    from brevity.formats import detect

    tok = AutoTokenizer.from_pretrained(standin_path("qwen3"))
    tok.bos_token = tok.bos_token or "<|endoftext|>"  # templates that write a bos_token (functionary) need one

    def resolve(name: str, template: str) -> str:
        tok.chat_template = template
        try:
            spec, _ = detect(tok)
        except Exception as e:  # noqa: BLE001  (a template that does not render a plain chat)
            return f"not resolved: {str(e).splitlines()[0][:70]}"
        if not spec.thinks:
            return "`plain`: no rendering shows a thinking section"
        switch = f"{spec.switch}={spec.switch_on!r}/{spec.switch_off!r}" if spec.switch else "none"
        if spec.switch and not spec.switch_closes:
            switch += " + prefill"
        off = repr(spec.off_form) if spec.switch and spec.switch_closes else "prefill"
        effort = f"; effort {spec.effort} ({', '.join(spec.effort_levels)})" if spec.effort else ""
        opens = "opens" if spec.prompt_opens else "does not open"
        return f"`{spec.name}`: `{spec.open}` ... `{spec.close}`, prompt {opens}; switch {switch}; off {off}{effort}"

    return resolve


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, help="write a markdown page here (default: print the table)")
    args = parser.parse_args()
    table = rows(resolve=format_resolver())
    for r in table:
        steers = not r["format"].startswith(("`plain`", "not resolved"))
        r["conformance vocabulary"] = template_rows.describe(r["template"]) if steers else "-"
    body = markdown(table)
    if args.out is None:
        print(body, end="")
        return
    n_open = sum(r["opens"] == "open" for r in table)
    n_switch = sum(r["switch"].startswith("yes") for r in table)
    n_steer = sum(not r["format"].startswith(("`plain`", "not resolved")) for r in table)
    header = (
        "# Chat templates with a thinking section\n\n"
        "The corpus: the 70 chat templates in llama-cpp-python 0.3.36's `vendor/llama.cpp/models/templates/`\n"
        "(fetched by `scripts/fetch_llama_cpp_models.sh`). Listed: the "
        f"{len(table)} whose text mentions thinking.\n{n_open} open thinking in their default generation prompt;\n"
        f"{n_switch} have an `enable_thinking` switch that changes it. Columns are defined in\n"
        "`benchmarks/template_table.py`; `format` is what `brevity.formats` resolves each template to (its\n"
        "`detect`, the same code `brevity formats show` runs, which reads the markers, the opening, the switch\n"
        "and the off form off the template's renderings: `brevity.formats.infer`), and `plain` means no rendering\n"
        f"shows a thinking section. {n_steer} of {len(table)} resolve to a format that steers thinking.\n"
        "`off` is the template's own thinking-off form (what its switch renders), or `prefill` (NoThinking's\n"
        "closed section) where no switch closes thinking. The rows are the corpus as shipped: llama.cpp's copies\n"
        "of the R1-Distill-Qwen-32B and QwQ-32B templates add an `enable_thinking` branch (hence `closed`, `yes`).\n"
        "`conformance vocabulary` is the tokenizer each steerable template's conformance row runs on\n"
        "(`tests/test_conformance_templates.py`: on and off renderings, a scripted reply split with exact token\n"
        "counts, `nothink` equal to the template's off rendering, `budget:N` closing with its own marker): the\n"
        "family's own (`own`), or the nearest stand-in vocabulary with the template's markers added as tokens.\n\n"
        "Produced by: `PYTHONPATH=src python benchmarks/template_table.py --out docs/results/template_table.md`\n\n"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    # The section markers let the docs include the table itself (pymdownx.snippets, concepts/formats.md).
    args.out.write_text(header + "<!-- --8<-- [start:table] -->\n" + body + "<!-- --8<-- [end:table] -->\n",
                        encoding="utf-8")
    print(f"wrote {args.out} ({len(table)} templates)")


if __name__ == "__main__":
    main()
