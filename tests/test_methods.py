"""The first three methods on the committed tiny-lrm."""

from brevity.methods import build_method
from brevity.tasks import load_problems
from brevity.tasks.grading import score_solutions


def test_budget_caps_thinking_and_always_answers(lrm_engine):
    probs = load_problems("arith", split="validation", n=16)
    for n in (16, 24, 64, 160):
        sols = build_method(f"budget:{n}").run(probs, lrm_engine)
        assert all(s.thinking_tokens <= n for s in sols)
        assert all(s.answer_tokens > 0 and "answer is" in s.answer for s in sols)


def test_cot_and_nothink_records(lrm_engine):
    probs = load_problems("arith", split="validation", n=8)
    cot = score_solutions(probs, build_method("cot").run(probs, lrm_engine))
    no = score_solutions(probs, build_method("nothink").run(probs, lrm_engine))
    assert all(s.thinking_tokens == 0 and s.answer_tokens > 0 for s in no)
    from brevity.tasks.grading import grade_problem

    for p, s in zip(probs, cot):
        assert s.correct == grade_problem(s.answer, p) and s.finish_reason == "stop"
        assert s.thinking_tokens == len(lrm_engine.encode(s.thinking))
        ids = lrm_engine.encode(s.thinking + "</think>\n\n" + s.answer)
        assert lrm_engine.format.count_thinking(ids) == s.thinking_tokens
        assert s.thinking.startswith("Okay")  # tiny-lrm thinks verbosely
        if s.correct:
            assert 0 < s.first_answer_tokens <= s.thinking_tokens


def test_budget_smaller_than_phrase_is_refused(lrm_engine):
    import pytest

    from brevity.errors import BrevityError

    with pytest.raises(BrevityError):
        build_method("budget:2").run(load_problems("arith", n=1), lrm_engine)
