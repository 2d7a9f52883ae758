"""Where the final answer sits in a model's output, as plain text; equivalence is grading.py's job.

Real LRMs restate and revise: "...the answer is 16... **Final Answer** \\boxed{18}" means 18. The
last ``\\boxed{}``/``\\fbox{}`` is the answer whenever there is one: it is the explicit final-answer
marker, and phrases after it are commentary ("We may check our answer: $17 \\cdot 44 = ...$").
Without a box, the last ``#### N`` or "answer is" value by position wins. Text inside unfinished
thinking never counts.
"""

from __future__ import annotations

import re
from functools import lru_cache

NUMBER = r"-?\$?\s?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?"
_NUMBER_RE = re.compile(NUMBER)
_PLAIN_NUMBER_RE = re.compile(r"-?\$?\s?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?\.?")
_HASHES_RE = re.compile(r"####\s*(" + NUMBER + r")")
_BOX_RE = re.compile(r"\\(?:boxed|fbox)(?![A-Za-z])")
_PHRASE_RE = re.compile(r"answer(?:\s+is|\s*:)(?:\s*\*\*)?[:\s]*", re.IGNORECASE)
# The "answer is N" phrase and its number (the one group) as one regex, for clients that extract with a single
# pattern, such as lm-evaluation-harness's regex filter (group_select -1: the last one). It covers the zoo's
# "The answer is N."; final_answer also reads boxes, "####" and math after the phrase.
ANSWER_PHRASE_REGEX = "(?i)" + _PHRASE_RE.pattern + "(" + NUMBER + ")"
# A number is the phrase's whole value unless math goes on after it ("3! \times 5!", "3x", "3, 5, 7").
_PHRASE_NUMBER_RE = re.compile(r"((?>" + NUMBER + r"))"
                               r"(?!\s*(?:[\\^_{}/+=×÷!(\[]|\*(?!\*))|\s*-\s*\d|[A-Za-z]|,\s*-?\d|\.\d)")
_SPAN_RE = re.compile(r"(\$\$|\$|\\\(|\\\[)(.+?)(?<!\\)(\$\$|\$|\\\)|\\\])", re.DOTALL)
_CLOSERS = {"$$": "$$", "$": "$", "\\(": "\\)", "\\[": "\\]"}
# Between two boxes of one answer ("\boxed{3}, \boxed{5} and \boxed{7}"): only separators.
_JOIN_RE = re.compile(r"^(?:\s|,|\$|\\[()\[\]]|\\quad|\\text\{\s*(?:and|or)\s*\}|and|or)*$")
_BARE_START = set("\\-([{0123456789.")
PHRASE_WINDOW = 300


@lru_cache(maxsize=1)
def _markers() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(opening, closing) thinking markers of every family the format layer knows."""
    from brevity.formats.catalog import FORMATS

    return (tuple(sorted({f.open for f in FORMATS.values() if f.open})),
            tuple(sorted({f.close for f in FORMATS.values() if f.close})))


def answer_region(output: str) -> str:
    """The text after the last closing thinking marker of any known family (`</think>`, `[/THINK]`, ...); empty
    when thinking was opened and never closed. Graders are often handed a whole output, thinking included."""
    opens, closes = _markers()
    end = max(((i + len(c)) for c in closes if (i := output.rfind(c)) != -1), default=-1)
    if end != -1:
        return output[end:]
    return "" if any(o in output for o in opens) else output


def _braced(text: str, i: int) -> tuple[str, int] | None:
    """The balanced ``{...}`` group starting at text[i] and the index after it."""
    depth = 0
    for j in range(i, len(text)):
        c = text[j]
        if c == "{" and (j == 0 or text[j - 1] != "\\"):
            depth += 1
        elif c == "}" and text[j - 1] != "\\":
            depth -= 1
            if depth == 0:
                return text[i + 1:j], j + 1
    return None


def boxes(text: str) -> list[tuple[int, int, str]]:
    """Every ``\\boxed{...}``/``\\fbox{...}`` (or ``\\boxed 5``) as (start, end, content)."""
    out = []
    for m in _BOX_RE.finditer(text):
        i = m.end()
        while i < len(text) and text[i] == " ":
            i += 1
        if i < len(text) and text[i] == "{":
            got = _braced(text, i)
            if got is None:
                continue
            content, end = got
        else:
            tok = re.match(r"[^\s$]+", text[i:])
            if not tok:
                continue
            content, end = tok.group(0), i + tok.end()
        out.append((m.start(), end, content.strip()))
    return out


def _last_box(text: str) -> tuple[int, str] | None:
    """The last box, joined with the boxes right before it when only separators lie between them."""
    found = boxes(text)
    if not found:
        return None
    start, _, content = found[-1]
    parts = [content]
    for prev in reversed(found[:-1]):
        if not _JOIN_RE.match(text[prev[1]:start]):
            break
        start = prev[0]
        parts.insert(0, prev[2])
    return start, ", ".join(parts)


def _after_last_equals(latex: str) -> str:
    """``3! \\times 5! = 720`` -> ``720``: the value a chain of equalities ends in (top level only)."""
    depth, cut = 0, -1
    for j, c in enumerate(latex):
        if c in "{([":
            depth += 1
        elif c in "})]":
            depth -= 1
        elif c == "=" and depth == 0 and (j == 0 or latex[j - 1] not in "<>!\\"):
            cut = j
    return latex[cut + 1:].strip() if cut >= 0 else latex.strip()


def _phrase_value(rest: str) -> str | None:
    """The value right after an "answer is" phrase: a number, a math span, or bare LaTeX."""
    m = _PHRASE_NUMBER_RE.match(rest)
    if m:
        return m.group(1)
    m = _SPAN_RE.match(rest)
    if m and _CLOSERS[m.group(1)] == m.group(3):
        return _after_last_equals(m.group(2)) or None
    if rest[:1] in _BARE_START and not rest.startswith(("\\boxed", "\\fbox")):
        bare = re.split(r"\.\s|\.$|\n|\s\(|;", rest, maxsplit=1)[0].strip().rstrip(".,")
        return _after_last_equals(bare) or None
    return None


def _candidates(text: str) -> list[tuple[int, str]]:
    box = _last_box(text)
    if box:
        return [box]
    out = []
    for m in _HASHES_RE.finditer(text):
        out.append((m.start(), m.group(1)))
    for m in _PHRASE_RE.finditer(text):
        value = _phrase_value(text[m.end():m.end() + PHRASE_WINDOW])
        if value:
            out.append((m.start(), value))
    return out


def clean_number(num: str) -> str:
    return num.replace("$", "").replace(",", "").replace(" ", "").rstrip(".")


def is_plain_number(text: str) -> bool:
    return _PLAIN_NUMBER_RE.fullmatch(text.strip()) is not None


def final_answer(output: str) -> str | None:
    """The answer the output ends on (the last box, else the last ``####`` or "answer is" value), or None."""
    text = answer_region(output)
    found = _candidates(text)
    if not found:
        return None
    value = max(found, key=lambda c: c[0])[1].strip()
    return clean_number(value) if is_plain_number(value) else value


def last_number(output: str) -> str | None:
    found = _NUMBER_RE.findall(answer_region(output))
    return clean_number(found[-1]) if found else None
