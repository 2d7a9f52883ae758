"""Answer extraction and numeric comparison; LaTeX goes through math-verify.

Methods pass only the text after ``</think>``: numbers inside (possibly cut-off) thinking never
count, and an output with no answer is wrong.
"""

from __future__ import annotations

import re
import threading
from fractions import Fraction

NUMBER = r"-?\$?\s?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?"
_NUM_RE = re.compile(NUMBER)
_STRICT_RES = [
    re.compile(r"####\s*(" + NUMBER + r")"),
    re.compile(r"answer is[:\s]*\$?\\?\(?\s*(" + NUMBER + r")", re.IGNORECASE),
    re.compile(r"\\boxed\{\s*(" + NUMBER + r")\s*\}"),
]


def _clean(num: str) -> str:
    return num.replace("$", "").replace(",", "").replace(" ", "").rstrip(".")


def extract_answer(output: str, mode: str = "flexible") -> str | None:
    """The final answer as a plain number string, or None.

    strict: only after ``####``, an "answer is" phrase, or ``\\boxed{}``; flexible: those first,
    else the last number in the text.
    """
    if mode not in ("strict", "flexible"):
        raise ValueError(f"mode must be 'strict' or 'flexible', not {mode!r}")
    for pattern in _STRICT_RES:
        found = pattern.findall(output)
        if found:
            return _clean(found[-1])
    if mode == "strict":
        return None
    found = _NUM_RE.findall(output)
    return _clean(found[-1]) if found else None


def _to_fraction(text: str) -> Fraction | None:
    try:
        return Fraction(_clean(text))
    except (ValueError, ZeroDivisionError):
        return None


def _math_verify(output: str, gold: str) -> bool:
    from math_verify import parse, verify

    main = threading.current_thread() is threading.main_thread()
    kw = {} if main else {"parsing_timeout": None}
    gold_parsed = parse(gold if "$" in gold else f"${gold}$", **kw)
    pred_parsed = parse(output, **kw)
    if not gold_parsed or not pred_parsed:
        return False
    return bool(verify(gold_parsed, pred_parsed, **({} if main else {"timeout_seconds": None})))


def grade(output: str, gold: str, mode: str = "flexible") -> bool:
    """True when the answer in ``output`` equals ``gold`` numerically (or symbolically for LaTeX)."""
    gold_num = _to_fraction(gold)
    if gold_num is not None:
        pred = extract_answer(output, mode)
        if pred is not None:
            pred_num = _to_fraction(pred)
            if pred_num is not None:
                return pred_num == gold_num
    if "\\" in output or "\\" in gold or gold_num is None:
        if mode == "strict" and extract_answer(output, "strict") is None and "\\boxed" not in output:
            return False
        return _math_verify(output, gold)
    return False


def grade_problem(answer_text: str, problem) -> bool:
    """Grade against a Problem: words (graph task) by the stated choice, everything else numerically."""
    if problem.metadata.get("answer_type") == "word":
        m = re.findall(r"answer is\s+(?:a\s+)?([A-Za-z]+)", answer_text)
        return bool(m) and m[-1].lower() == problem.answer.lower()
    return grade(answer_text, problem.answer)
