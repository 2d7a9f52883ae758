"""Decode-time methods of the explicit family: budget-wait, nowait, deer, dynasor (hf engine)."""

import pytest

from brevity.errors import BrevityError
from brevity.methods import build_method
from brevity.tasks import load_problems


@pytest.fixture(scope="module")
def probs():
    return load_problems("arith", split="validation", n=8)


@pytest.fixture(scope="module")
def cot(probs, lrm_engine):
    return build_method("cot").run(probs, lrm_engine)


def test_budget_wait_extends_early_closes_and_keeps_the_cap(probs, cot, lrm_engine):
    sols = build_method("budget-wait:max=400;min=300;waits=1").run(probs, lrm_engine)
    for c, s in zip(cot, sols):
        assert s.thinking_tokens <= 400
        assert s.extra.get("waits", 0) <= 1
        if c.thinking_tokens < 300 - 2:  # closed too early under cot: one "Wait" was forced in
            assert s.extra.get("waits") == 1 and s.thinking.startswith(c.thinking.rstrip("\n"))
            assert s.thinking_tokens > c.thinking_tokens
    # min=0 never forces a wait: the same as a plain budget
    same = build_method("budget-wait:max=400;min=0").run(probs, lrm_engine)
    plain = build_method("budget:400").run(probs, lrm_engine)
    assert [s.thinking for s in same] == [s.thinking for s in plain]


def test_nowait_bans_reflection_words(probs, cot, lrm_engine):
    # Whether this saves tokens is a benchmark result (on tiny-lrm it does not: it spells "Wai"+"c" ...).
    sols = build_method("nowait").run(probs, lrm_engine)
    banned = {i for i, _ in build_method("nowait").banned(lrm_engine)}
    for s in sols:
        assert "Wait" not in s.thinking and "Hmm" not in s.thinking
        assert s.answer_tokens > 0 and s.thinking_tokens <= 1024
    assert banned >= {lrm_engine.tokenizer.convert_tokens_to_ids("Wait")}
    with pytest.raises(BrevityError):
        build_method("nowait:words=Supercalifragilistic").run(probs[:1], lrm_engine)


def test_deer_that_never_trusts_a_probe_thinks_exactly_like_cot(probs, cot, lrm_engine):
    """Probing must not disturb the thought: continuing after a probe reproduces cot token for token."""
    sols = build_method("deer:1.0").run(probs, lrm_engine)
    kept = [(s, c) for s, c in zip(sols, cot) if "exit" not in s.extra]  # a probe can round to p=1.0
    assert kept
    for s, c in kept:
        assert s.thinking == c.thinking and s.thinking_tokens == c.thinking_tokens
        assert s.probe_tokens > 0 or "\nWait" not in c.thinking


def test_deer_exits_at_the_first_confident_transition(probs, cot, lrm_engine):
    sols = build_method("deer:0.01").run(probs, lrm_engine)
    for s, c in zip(sols, cot):
        assert "\nWait" not in s.thinking  # the first transition point ends thinking
        assert s.thinking_tokens <= c.thinking_tokens
        if s.extra.get("exit") == "confident":
            assert s.probe_tokens > 0 and s.probe_seconds > 0
    assert sum(s.thinking_tokens for s in sols) < 0.9 * sum(c.thinking_tokens for c in cot)


def test_dynasor_exits_when_probes_agree(probs, cot, lrm_engine):
    one = build_method("dynasor:every=8;agree=1").run(probs, lrm_engine)
    for s in one:
        if s.extra.get("exit") == "consistent":
            assert s.thinking_tokens == 9  # 8 thought tokens and the newline before </think>
    sols = build_method("dynasor:every=16;agree=2").run(probs, lrm_engine)
    for s, c in zip(sols, cot):
        assert s.thinking_tokens <= c.thinking_tokens + 1
        assert s.probe_tokens > 0
    with pytest.raises(BrevityError):
        build_method("dynasor:every=0")
