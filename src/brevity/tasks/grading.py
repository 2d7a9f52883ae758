"""Grading: one function for every task and for the server.

answers.py finds the final answer (the last ``\\boxed{}``, else the last ``#### N`` or "answer is"
value by position); two plain numbers compare exactly, anything else goes through math-verify, whose
normalization already covers units in ``\\text{}``, ``\\$``, ``^\\circ``, ``\\%``, ``\\dfrac``,
``\\left(``, base-n subscripts, tuples, intervals and sets. Methods pass only the text after
``</think>`` (and text after an unclosed ``<think>`` is ignored here too): numbers inside (possibly
cut-off) thinking never count, and no answer is wrong.
"""

from __future__ import annotations

import re
import threading
from fractions import Fraction
from functools import lru_cache
from typing import Any

from brevity.tasks.answers import NUMBER, answer_region, clean_number, final_answer, is_plain_number, last_number

__all__ = ["NUMBER", "equivalent", "extract_answer", "grade", "grade_problem", "math_verify_equal"]

_UNESCAPED_DOLLAR = re.compile(r"(?<!\\)\$")


def extract_answer(output: str, mode: str = "flexible") -> str | None:
    """The final answer: a plain number string when it is one, else the LaTeX as written; or None.

    strict: only a ``\\boxed{}``, ``####`` or "answer is" value (the last by position); flexible: else
    the last number in the text.
    """
    if mode not in ("strict", "flexible"):
        raise ValueError(f"mode must be 'strict' or 'flexible', not {mode!r}")
    found = final_answer(output)
    if found is not None or mode == "strict":
        return found
    return last_number(output)


def _number(text: str) -> Fraction | None:
    if not is_plain_number(text):
        return None
    try:
        return Fraction(clean_number(text))
    except (ValueError, ZeroDivisionError):
        return None


def _on_main_thread() -> bool:
    # math-verify times out with SIGALRM, which only the main thread may use; elsewhere no timeout.
    return threading.current_thread() is threading.main_thread()


@lru_cache(maxsize=8192)
def _parsed(latex: str) -> tuple[Any, ...]:
    """math-verify's parse of one answer (as inline math), cached: golds and predictions repeat."""
    from math_verify import parse

    text = latex if latex.startswith("$") and latex.endswith("$") else f"${_UNESCAPED_DOLLAR.sub('', latex)}$"
    return tuple(parse(text, **({} if _on_main_thread() else {"parsing_timeout": None})))


def _verify(gold: Any, pred: Any) -> bool:
    from math_verify import verify

    if not gold or not pred:
        return False
    return bool(verify(list(gold), list(pred), **({} if _on_main_thread() else {"timeout_seconds": None})))


@lru_cache(maxsize=65536)
def math_verify_equal(gold: str, pred: str) -> bool:
    """math-verify's verdict on two answer strings; cached, since sympy's simplification costs
    milliseconds and re-scoring a run meets the same pairs again."""
    return _verify(_parsed(gold.strip()), _parsed(pred.strip()))


def equivalent(pred: str, gold: str) -> bool:
    """True when two answer strings (already extracted) mean the same value."""
    p, g = _number(pred), _number(gold)
    if p is not None and g is not None:
        return p == g
    if "," in pred and "," in gold and _bracketed(pred) != _bracketed(gold):
        return False  # an ordered pair or interval is not a list of values (math-verify compares them as sets)
    return math_verify_equal(gold, pred)


def _bracketed(answer: str) -> bool:
    """An answer holding a tuple or an interval around its comma: (a, b), [a, b), x \\in [a, b], ..."""
    return re.search(r"[(\[][^()\[\]]*,[^()\[\]]*[)\]]", answer) is not None


def grade(output: str, gold: str, mode: str = "flexible") -> bool:
    """True when the answer in ``output`` equals ``gold`` (numerically, or through math-verify).

    With no boxed/``####``/"answer is" value, flexible mode falls back to the last number (numeric
    gold) or to math-verify's own extraction from the whole text (LaTeX gold); strict mode says no.
    """
    pred = extract_answer(output, "strict")
    if pred is not None:
        return equivalent(pred, gold)
    if mode == "strict":
        return False
    if _number(gold) is not None:
        last = last_number(output)
        if last is not None and _number(last) is not None:
            return _number(last) == _number(gold)
    text = answer_region(output)
    if "\\" not in text and "\\" not in gold and _number(gold) is not None:
        return False
    from math_verify import parse

    return _verify(_parsed(gold.strip()), parse(text, **({} if _on_main_thread() else {"parsing_timeout": None})))


def score(problem, answer: str, answered: bool = True) -> tuple[bool, str | None]:
    """A task's verdict on an answer text (the text after thinking): (correct, the prediction it extracted).
    `answered=False` (no answer token was written) is wrong; a problem without a gold answer (a served request)
    is never correct. Methods write answers; the bench, routes and recipes score them here."""
    if problem.metadata.get("answer_type") == "refusal":  # a safety prompt: the judge's label is the prediction
        from brevity.tasks.refusal import judge_refusal

        label = judge_refusal(answer) if answered and answer.strip() else "no_answer"  # no text: no answer
        return label != "no_answer" and (label == "full_compliance") == (problem.answer == "comply"), label
    word = problem.metadata.get("answer_type") == "word"
    prediction = answer.strip() if word else extract_answer(answer, "flexible")
    return answered and bool(problem.answer) and grade_problem(answer, problem), prediction


def score_solutions(problems, solutions: list) -> list:
    """Score Solutions in place (correct, prediction) against their problems; a wrong one keeps no
    first-mention count (outcome efficiency is measured on correct answers). Returns them."""
    by_id = {p.id: p for p in problems}
    for s in solutions:
        s.correct, s.prediction = score(by_id[s.problem_id], s.answer, s.answer_tokens > 0)
        if by_id[s.problem_id].metadata.get("answer_type") == "refusal":
            from brevity.tasks.refusal import thinking_refusal

            s.extra["thinking_refusal"] = thinking_refusal(s.thinking)
        if not s.correct:
            s.first_answer_tokens = None
    return solutions


def grade_problem(answer_text: str, problem) -> bool:
    """Grade against a Problem: words (graph task) by the stated choice, everything else by ``grade``."""
    if problem.metadata.get("answer_type") == "word":
        m = re.findall(r"answer is\s+(?:a\s+)?([A-Za-z]+)", answer_text)
        return bool(m) and m[-1].lower() == problem.answer.lower()
    return grade(answer_text, problem.answer)
