"""One conformance row per thinking template of llama.cpp's corpus, each on a named vocabulary.

Why: the stand-ins cover nine families with a network; the other templates in the corpus still have to be
steered exactly (split, counted, turned off, force-closed) by the same format layer. A row renders its
template over a stand-in's tokenizer: the family's own where Brevity can build it (`own`), else the nearest
one, with every marker-like literal of the template (`<|...|>`, `<...>`, `[UPPER]`, DeepSeek's full-width
ones) added as a single token where it is not one already. Which vocabulary each row uses is in `ROWS`
and `vocabulary_for` and is printed in docs/results/template_table.md.
"""

from __future__ import annotations

import copy
import re
from functools import cache

from brevity.conformance import standins, vocab
from brevity.formats.infer import infer, renderer

# Templates whose family's own tokenizer a stand-in carries.
OWN = {
    "deepseek-ai-DeepSeek-R1-Distill-Llama-8B.jinja": "r1-distill-llama",
    "deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja": "r1-distill-qwen",
    "deepseek-ai-DeepSeek-V3.1.jinja": "deepseek-v3.1",
    "deepseek-ai-DeepSeek-V3.2.jinja": "deepseek-v3.1",  # V3.2 keeps V3.1's tokenizer
    "Qwen-QwQ-32B.jinja": "qwq",
    "Qwen-Qwen3-0.6B.jinja": "qwen3",
    "openai-gpt-oss-120b.jinja": "gpt-oss",
}
# Otherwise the nearest stand-in vocabulary, by template name prefix (first match); Qwen2's BPE by default.
NEAREST = (
    ("deepseek-ai-", "deepseek-v3.1"),
    ("llama-cpp-deepseek-r1", "r1-distill-qwen"),
    ("google-gemma-4", "gemma-4"),
    ("mistralai-", "ministral-3-reasoning"),
    ("ByteDance-Seed-OSS", "seed-oss"),
    ("HuggingFaceTB-SmolLM3", "r1-distill-llama"),  # SmolLM3 uses Llama 3's vocabulary
)
DEFAULT = "qwen3"

# Marker-like literals: <|x|>, <|x>, <x|>, <x>, </x>, <x:y>, [X], [/X], [X Y] and DeepSeek's <｜x｜>.
_MARKER = re.compile(
    r"<｜[^｜<>]{1,40}｜>|<\|?/?[A-Za-z_][A-Za-z0-9_:.\"-]{0,39}\|?>|<\|\"\|>|\[/?[A-Z][A-Z_ ]{1,30}[A-Z]\]"
)


def vocabulary_for(template: str) -> tuple[str, bool]:
    """(stand-in whose tokenizer the row uses, whether that is the family's own vocabulary)."""
    if template in OWN:
        return OWN[template], True
    for prefix, name in NEAREST:
        if template.startswith(prefix):
            return name, False
    return DEFAULT, False


def describe(template: str) -> str:
    """The row's vocabulary in words: the stand-in family, what it is built on where that is not its own."""
    name, own = vocabulary_for(template)
    family = standins.spec(name).family
    fam = vocab.family(family)
    base = f"{family} ({fam['vocab'].removeprefix(vocab.LENML_PREFIX)}'s BPE)" if fam.get("nearest") else family
    return f"{base}, own" if own else f"{base}, markers added"


def markers(text: str) -> list[str]:
    """The template's marker-like literals, longest first, without repeats."""
    return sorted(set(_MARKER.findall(text)), key=lambda m: (-len(m), m))


@cache
def _base(name: str):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(standins.standin_path(name))


def row_tokenizer(template: str, text: str):
    """A copy of the row's vocabulary with the template set and, on a nearest vocabulary, its markers added."""
    from tokenizers import AddedToken

    name, own = vocabulary_for(template)
    tok = copy.deepcopy(_base(name))
    tok.chat_template = text
    if not own:  # the literals, and the markers as rendered (some templates build them from pieces)
        inf = infer(text, renderer(text))
        rendered = "".join(x or "" for x in (inf.open, inf.close, inf.off_form, inf.on_form, inf.end_of_turn))
        new = [m for m in markers(text + rendered) if len(tok.encode(m, add_special_tokens=False)) != 1]
        tok.add_tokens([AddedToken(m, special=False, normalized=False) for m in new])
    return tok
