"""Budgets that fit the clients' rule (Anthropic: max_tokens above budget_tokens; OpenAI: reasoning counts inside
max_completion_tokens, a cut answer ends with finish_reason "length"): a request's thinking budget, effort or early
exit is served whenever max_tokens leaves room for the closing marker and one answer token, and the answer gets
what is left. Checked with the official openai client on the Qwen3 stand-in (real template and vocabulary)."""

from __future__ import annotations

import pytest

from conftest import qwen3_standin_client

QUESTION = [{"role": "user", "content": "What is 2 + 3?"}]


@pytest.fixture(scope="module")
def client():
    yield from qwen3_standin_client()


@pytest.mark.parametrize("max_tokens", [160, 256])
@pytest.mark.parametrize("extra", [{"thinking_budget": 32}, {"reasoning_effort": "low"}, {"early_exit": "deer"},
                                   {"early_exit": "deer", "thinking_budget": 32}])
def test_budgets_fit_ordinary_max_tokens(client, max_tokens, extra):
    c, gw = client
    r = c.chat.completions.create(model="qwen3", messages=QUESTION, max_tokens=max_tokens, extra_body=extra)
    use = r.usage
    budget = extra.get("thinking_budget") or gw.cfg.models["qwen3"].efforts.get(extra.get("reasoning_effort"))
    if budget:
        assert use.completion_tokens_details.reasoning_tokens <= budget
    assert use.completion_tokens <= max_tokens
    # random weights never stop on their own: thinking runs to its cap and is closed (an early exit's cap is
    # what max_tokens leaves the answer's share), and the answer runs to what is left and says it was cut
    assert r.choices[0].finish_reason == "length" and r.model_extra["brevity"]["forced_close"]


def test_a_budget_without_room_for_an_answer_is_one_400(client):
    import openai

    c, _ = client
    with pytest.raises(openai.BadRequestError) as e:
        c.chat.completions.create(model="qwen3", messages=QUESTION, max_tokens=160,
                                  extra_body={"thinking_budget": 159})
    err = e.value.body
    assert err["param"] == "thinking_budget" and "at least 161" in err["message"]
    ok = c.chat.completions.create(model="qwen3", messages=QUESTION, max_tokens=160,
                                   extra_body={"thinking_budget": 158})
    assert ok.usage.completion_tokens <= 160 and ok.usage.completion_tokens_details.reasoning_tokens <= 158


def test_an_effort_that_does_not_fit_is_lowered_to_leave_the_answer_its_share(client):
    c, gw = client
    r = c.chat.completions.create(model="qwen3", messages=QUESTION, max_tokens=100,
                                  extra_body={"reasoning_effort": "high"})  # 192 thinking tokens asked
    think = r.usage.completion_tokens_details.reasoning_tokens
    assert think <= 100 - 1 - 50 and r.usage.completion_tokens <= 100


def test_the_safety_floor_raises_budgets_and_holds_early_exits(client):
    """`safety_floor`: a smaller budget is raised to it, an early exit tries no answer before it (random weights
    never close thinking themselves, so a budget's thinking runs to its cap)."""
    c, gw = client
    model = gw.cfg.models["qwen3"]
    model.safety_floor = 48
    try:
        r = c.chat.completions.create(model="qwen3", messages=QUESTION, max_tokens=160,
                                      extra_body={"thinking_budget": 16})
        spec = r.model_extra["brevity"]["method"]
        assert spec.startswith("budget:") and "max=48" in spec
        assert 16 < r.usage.completion_tokens_details.reasoning_tokens <= 48
        r = c.chat.completions.create(model="qwen3", messages=QUESTION, max_tokens=160,
                                      extra_body={"early_exit": "dynasor"})
        assert "floor=48" in r.model_extra["brevity"]["method"]
        assert r.usage.completion_tokens_details.reasoning_tokens >= 48
        off = c.chat.completions.create(model="qwen3", messages=QUESTION, max_tokens=160,
                                        extra_body={"thinking": {"type": "disabled"}})  # served as asked
        assert off.usage.completion_tokens_details.reasoning_tokens == 0
    finally:
        model.safety_floor = 0


def test_a_request_picks_its_kv_cache_policy(client):
    """`kv_cache`: the request decodes under the policy (an early exit's probes too), and the same answer as the
    bench's engine gives under it; a bad policy is one 400 naming the field."""
    import openai

    c, gw = client
    full = c.chat.completions.create(model="qwen3", messages=QUESTION, max_tokens=120, temperature=0)
    roomy = c.chat.completions.create(model="qwen3", messages=QUESTION, max_tokens=120, temperature=0,
                                      extra_body={"kv_cache": "rkv:budget=2000"})
    assert roomy.choices[0].message.content == full.choices[0].message.content  # nothing evicted: the same tokens
    for policy in ("h2o:budget=24", "streaming:budget=24"):
        r = c.chat.completions.create(model="qwen3", messages=QUESTION, max_tokens=120, temperature=0,
                                      extra_body={"kv_cache": policy, "early_exit": "deer"})
        assert r.usage.completion_tokens <= 120
    with pytest.raises(openai.BadRequestError) as e:
        c.chat.completions.create(model="qwen3", messages=QUESTION, max_tokens=120,
                                  extra_body={"kv_cache": "rkv:budget=0"})
    assert e.value.body["param"] == "kv_cache" and "budget must be >= 1" in e.value.body["message"]


def test_the_models_kv_cache_is_the_default_and_needs_hf(tmp_path):
    from brevity.errors import BrevityError
    from brevity.serve.config import load_config

    good = tmp_path / "good.toml"
    good.write_text('[models.m]\npath = "tiny-lrm"\nkv_cache = "rkv:budget=64"\n')
    assert load_config(good).models["m"].kv_cache == "rkv:budget=64"
    for body, needle in (('[models.m]\npath = "tiny-lrm"\nkv_cache = "lru:budget=64"\n', "unknown KV policy"),
                         ('[models.m]\npath = "tiny-lrm"\nbackend = "openai"\nurl = "http://127.0.0.1:9/v1"\n'
                          'kv_cache = "rkv:budget=64"\n', "evicts inside the hf engine")):
        bad = tmp_path / "bad.toml"
        bad.write_text(body)
        with pytest.raises(BrevityError, match=needle):
            load_config(bad)
