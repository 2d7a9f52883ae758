"""KV-cache policies (engines/kv_policy.py, engines/evicting_cache.py): parsing and its errors, equality with the
engine's ordinary path when nothing is evicted, budgets held, batched equal to one at a time, continuations equal
to one call, and the bench's --kv on the zoo and on a real format."""

from __future__ import annotations

import json
import math

import pytest
import torch

from brevity.engines.base import Request
from brevity.engines.evicting_cache import rotate
from brevity.engines.kv_policy import FULL, parse_kv_list, parse_kv_policy
from brevity.errors import BrevityError

POLICIES = ("streaming", "h2o", "rkv", "rpc")


@pytest.fixture(scope="module")
def qwen3_lrm_engine():
    """The zoo's member in Qwen3's real format (its own architecture, tokenizer and template)."""
    from brevity.engines.hf import HFEngine
    from brevity.zoo import resolve_model

    return HFEngine(resolve_model("tiny-qwen3-lrm"))


def _prompts(engine, n=6):
    from brevity.methods.control import prompts
    from brevity.tasks import load_problems

    return [tuple(p) for p in prompts(load_problems("arith", "validation", n), engine, steer=False)]


def _run(engine, prompts, policy, max_tokens=300, alone=False):
    engine.clear_caches()
    reqs = [Request(p, max_tokens, kv=policy) for p in prompts]
    if alone:
        return [engine.complete([r])[0] for r in reqs]
    return engine.complete(reqs)


@pytest.mark.fast
@pytest.mark.parametrize("text, message", [
    ("lru:budget=64", "unknown KV policy 'lru'"),
    ("rkv", "needs a budget"),
    ("rkv:budget=0", "budget must be >= 1"),
    ("h2o:budget=16;window=16", "exceed the budget"),
    ("rkv:budget=16;window=12", "exceed the budget"),
    ("rkv:budget=0%", "share must be in"),
    ("rkv:budget=64;speed=2", "unknown parameter 'speed'"),
    ("full:budget=64", "takes no parameters"),
    ("rkv:budget=64;mix=2", "mix must be in [0, 1]"),
    ("h2o:budget=64;mix=0.5", "does not read mix"),
    ("streaming:budget=64;observe=4", "does not read observe"),
])
def test_bad_policies_are_refused(text, message):
    with pytest.raises(BrevityError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_kv_policy(text)


@pytest.mark.fast
def test_policy_texts_round_trip():
    for text in ("full", "streaming:budget=64;window=8", "h2o:budget=64;window=32", "rkv:budget=25%;window=8",
                 "rpc:budget=96;window=8;every=4", "rkv:budget=64;window=8;mix=0.5"):
        assert parse_kv_policy(text).text() == text
    assert parse_kv_policy("h2o:64").window == 32  # H2O splits its budget between heavy hitters and recent tokens
    assert [p.name for p in parse_kv_list("full, rkv:budget=64")] == ["full", "rkv"]
    share = parse_kv_policy("rkv:budget=25%")
    assert share.cap(0) == share.window + share.every and share.cap(400) == 100


@pytest.mark.fast
def test_rotations_compose_and_keep_relative_scores():
    """streaming's shift: a key turned E positions further scores against a query at P as the key at its own
    position does against the query at P - E (RoPE scores depend on the distance alone)."""
    torch.manual_seed(0)
    d = 16
    inv_freq = 1.0 / (10000 ** (torch.arange(0, d, 2).float() / d))
    q0, k0 = torch.randn(1, 1, 1, d), torch.randn(1, 1, 1, d)
    at = lambda x, p: rotate(x, torch.tensor([p]), inv_freq)  # noqa: E731
    assert torch.allclose(at(at(k0, 5), 7), at(k0, 12), atol=1e-5)
    p, big_p, e = 3, 40, 11
    assert torch.allclose((at(q0, big_p - e) * at(k0, p)).sum(), (at(q0, big_p) * at(at(k0, p), e)).sum(), atol=1e-4)


def test_no_eviction_is_the_full_path(lrm_engine):
    """Every policy with a budget above the trace decodes exactly what the engine's ordinary path does."""
    prompts = _prompts(lrm_engine)
    full = _run(lrm_engine, prompts, None)
    assert "kv" not in full[0].extra
    for name in POLICIES:
        out = _run(lrm_engine, prompts, parse_kv_policy(f"{name}:budget=2000"))
        assert [c.token_ids for c in out] == [c.token_ids for c in full], name
        assert all(c.extra["kv"]["evicted_tokens"] == 0 for c in out)


def test_budgets_hold_and_batched_equals_alone(lrm_engine):
    prompts = _prompts(lrm_engine, 4)
    for text in ("streaming:budget=32", "h2o:budget=32", "rkv:budget=32", "rpc:budget=32;every=4", "rkv:budget=30%"):
        policy = parse_kv_policy(text)
        batched = _run(lrm_engine, prompts, policy, max_tokens=160)
        alone = _run(lrm_engine, prompts, policy, max_tokens=160, alone=True)
        assert [c.token_ids for c in batched] == [c.token_ids for c in alone], text
        assert [c.extra["kv"] for c in batched] == [c.extra["kv"] for c in alone], text
        for c in batched:
            kv = c.extra["kv"]
            trace = len(c.token_ids)
            cap = policy.cap(trace) if policy.share else policy.budget
            assert kv["peak_trace_tokens"] <= cap, (text, kv)
            assert kv["evicted_tokens"] > 0 and kv["policy"] == policy.text()


def test_a_continuation_decodes_as_one_call(lrm_engine):
    """A sequence continued by a second call (its evicted state resumed from the policy's prefix cache, the last
    token re-run or not) writes what one call writes."""
    prompts = _prompts(lrm_engine, 4)
    for text in ("h2o:budget=48", "rkv:budget=48", "streaming:budget=40"):
        policy = parse_kv_policy(text)
        one = _run(lrm_engine, prompts, policy, max_tokens=150)
        for cut in (0, 1):
            lrm_engine.clear_caches()
            first = lrm_engine.complete([Request(p, 70, kv=policy) for p in prompts])
            ids = [c.token_ids[:len(c.token_ids) - cut] for c in first]
            second = lrm_engine.complete([Request(p + tuple(i), 150 - len(i), kv=policy) for p, i in zip(prompts, ids)])
            assert all(s.cached_tokens >= len(p) for s, p in zip(second, prompts))  # resumed, not re-prefilled
            got = [i + s.token_ids if f.finish_reason == "length" else f.token_ids
                   for i, f, s in zip(ids, first, second)]
            assert got == [c.token_ids for c in one], (text, cut)


def test_a_real_format_decodes_under_every_policy(qwen3_lrm_engine):
    prompts = _prompts(qwen3_lrm_engine, 3)
    full = _run(qwen3_lrm_engine, prompts, FULL, max_tokens=100)
    for name in POLICIES:
        same = _run(qwen3_lrm_engine, prompts, parse_kv_policy(f"{name}:budget=2000"), max_tokens=100)
        assert [c.token_ids for c in same] == [c.token_ids for c in full], name
        policy = parse_kv_policy(f"{name}:budget=24")
        batched = _run(qwen3_lrm_engine, prompts, policy, max_tokens=100)
        alone = _run(qwen3_lrm_engine, prompts, policy, max_tokens=100, alone=True)
        assert [c.token_ids for c in batched] == [c.token_ids for c in alone], name
        assert max(c.extra["kv"]["peak_trace_tokens"] for c in batched) <= 24


def test_bench_crosses_methods_with_policies(tmp_path):
    """`brevity bench --kv`: one run per (method, policy), records with the cache's peaks (DEER's probes and answer
    continue the evicted cache), and the KV table and plot."""
    from brevity.api import benchmark

    res = benchmark("tiny-lrm", ["cot", "deer"], task="arith", n=4, split="validation", out=tmp_path,
                    kv=["full", "rkv:budget=48"])
    labels = {r["method"] for r in res.rows}
    assert labels == {"cot", "deer:0.95", "cot kv=rkv:budget=48;window=8", "deer:0.95 kv=rkv:budget=48;window=8"}
    for rec in res.records:
        kv = rec["extra"].get("kv")
        assert (kv is None) == (" kv=" not in rec["method"])
        if kv:
            assert 0 < kv["peak_trace_tokens"] <= 48 and kv["peak_cache_bytes"] > 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    row = next(r for r in summary if r["method"] == "deer:0.95 kv=rkv:budget=48;window=8")
    assert row["kv"]["method"] == "deer:0.95" and row["kv"]["accuracy_diff_vs_full_ci95"] is not None
    assert "## KV cache" in (tmp_path / "report.md").read_text() and (tmp_path / "kv.png").stat().st_size > 0


@pytest.mark.parametrize("args, message", [
    (["--kv", "lru:budget=8"], "unknown KV policy"),
    (["--kv", "rkv:budget=0"], "budget must be >= 1"),
    (["--kv", "rkv:budget=16;window=16"], "exceed the budget"),
    (["--kv", "rkv:budget=64", "--engine", "openai", "--url", "http://127.0.0.1:9/v1", "--tokenizer", "tiny-lrm"],
     "evict inside the hf engine"),
])
def test_bad_kv_options_are_one_line(args, message, tmp_path, cli):
    r = cli(["bench", "--n", "2", "--methods", "cot", "--out", tmp_path / "o", *args])
    assert r.returncode == 2 and message in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_the_share_budget_grows_with_the_trace(lrm_engine):
    prompts = _prompts(lrm_engine, 3)
    policy = parse_kv_policy("h2o:budget=20%")
    for c in _run(lrm_engine, prompts, policy):
        assert c.extra["kv"]["peak_trace_tokens"] <= max(policy.window + policy.every,
                                                          math.ceil(0.2 * len(c.token_ids)))
