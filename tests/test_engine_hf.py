"""The hf engine: batching with left padding and prefix caching must not change greedy outputs."""


import pytest

from brevity.engines.base import Request
from brevity.engines.hf import HFEngine
from brevity.tasks import load_problems
from brevity.zoo.chat import prompt_text


@pytest.fixture(scope="module")
def engines(lrm_path):
    return HFEngine(lrm_path, batch_size=8), HFEngine(lrm_path, batch_size=1, prefix_cache=False)


def test_batched_equals_single_and_cache_continuation_is_exact(engines):
    cached, plain = engines
    probs = load_problems("arith", split="validation", n=6)
    first = cached.complete([Request(prompt_text(p.question), 40, logprobs=True) for p in probs])
    alone = plain.complete([Request(prompt_text(p.question), 40, logprobs=True) for p in probs])
    for a, b in zip(first, alone):
        assert a.token_ids == b.token_ids
        assert max(abs(x - y) for x, y in zip(a.logprobs, b.logprobs)) < 1e-4
    conts = [Request(tuple(c.prompt_ids + c.token_ids), 30, logprobs=True) for c in first]
    hit = cached.complete(conts)
    miss = plain.complete(conts)
    for h, m, c in zip(hit, miss, first):
        assert h.cached_tokens >= len(c.prompt_ids)  # the continuation ran only its new tokens
        assert h.token_ids == m.token_ids
        assert max(abs(x - y) for x, y in zip(h.logprobs, m.logprobs)) < 1e-4


def test_a_probe_uses_the_cache_but_does_not_fill_it(engines):
    cached, _ = engines
    p = load_problems("arith", split="validation", n=7)[6]
    first = cached.complete([Request(prompt_text(p.question), 20)])[0]
    entries = len(cached.cache.entries)
    probe = cached.complete([Request(tuple(first.prompt_ids + first.token_ids) + (5, 6), 3, keep_cache=False)])[0]
    assert probe.cached_tokens >= len(first.prompt_ids) and len(cached.cache.entries) == entries
    cached.complete([Request(tuple(first.prompt_ids + first.token_ids), 3)])
    assert len(cached.cache.entries) == entries + 1


def test_stop_strings_are_cut_like_openai_servers(engines):
    _, plain = engines
    p = load_problems("arith", split="validation", n=1)[0]
    c = plain.complete([Request(prompt_text(p.question), 400, stop=("</think>",))])[0]
    assert c.finish_reason == "stop" and c.stop_reason == "</think>"
    assert "</think>" not in c.text and plain.decode(c.token_ids) == c.text


def test_prefix_cache_skips_the_prefill_of_a_cached_prefix(lrm_path):
    """What saves the time, counted rather than timed (no test depends on the wall clock): a continuation of a
    cached prefix prefills only what is new, and after the cache is cleared it prefills everything again, to the
    same token."""
    eng = HFEngine(lrm_path, batch_size=1)
    p = load_problems("arith", split="validation", n=1)[0]
    base = eng.complete([Request(prompt_text(p.question), 300)])[0]
    prefix = tuple(base.prompt_ids + base.token_ids[:250])
    hot = eng.complete([Request(prefix, 1)])[0]
    eng.cache.clear()
    cold = eng.complete([Request(prefix, 1)])[0]
    assert eng.cache.hits >= 1 and hot.cached_tokens >= len(base.prompt_ids) and cold.cached_tokens == 0
    assert hot.token_ids == cold.token_ids
