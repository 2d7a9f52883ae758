"""The gateway in front of a real upstream engine: vLLM's CPU build serving tiny-lrm (the shared
`vllm_server` fixture). Budgets are enforced by the gateway (think up to the budget over the openai
engine, then close thinking and answer), with the same answers as the in-process hf backend."""

import httpx
import pytest

from brevity.methods import build_method
from brevity.serve.background import BackgroundServer as Server
from brevity.serve.config import single_model
from brevity.serve.gateway import Gateway
from brevity.tasks import load_problems

pytestmark = pytest.mark.server


def chat(p):
    return [{"role": "user", "content": p.question}]


@pytest.fixture(scope="module")
def upstream(vllm_server):
    cfg = single_model("tiny-lrm", backend="openai", url=f"{vllm_server}/v1")
    cfg.aliases = {}
    gw = Gateway(cfg)
    gw.start()
    with Server(cfg, gw) as url:
        yield url
    gw.close()


def test_upstream_budgets_are_enforced(upstream, lrm_engine):
    from brevity.methods import build_method

    probs = load_problems("arith", split="test", n=6)
    for budget in (24, 64, 136):
        local = build_method(f"budget:{budget}").run(probs, lrm_engine)
        for p, d in zip(probs, local):
            r = httpx.post(f"{upstream}/v1/chat/completions", timeout=120,
                           json={"model": "tiny-lrm", "messages": chat(p), "thinking_budget": budget}).json()
            assert r["usage"]["completion_tokens_details"]["reasoning_tokens"] <= budget, r
            assert r["choices"][0]["message"]["content"].startswith("The answer is"), r
            assert r["choices"][0]["message"]["content"] == d.answer.strip()


def test_upstream_stream_and_early_exit(upstream):
    p = load_problems("arith", split="test", n=1)[0]
    body = {"model": "tiny-lrm", "messages": chat(p), "early_exit": "deer"}
    whole = httpx.post(f"{upstream}/v1/chat/completions", json=body, timeout=120).json()
    assert whole["brevity"]["probe_tokens"] > 0
    with httpx.stream("POST", f"{upstream}/v1/chat/completions", json={**body, "stream": True}, timeout=120) as r:
        lines = [ln for ln in r.iter_lines() if ln.startswith("data: {")]
    import json

    deltas = [json.loads(ln[6:])["choices"] for ln in lines]
    text = "".join(c[0]["delta"].get("reasoning_content") or "" for c in deltas if c)
    assert text == whole["choices"][0]["message"]["reasoning_content"]


def test_native_vllm_thinking_budget(vllm_server):
    """With native_budget, the gateway passes the cap to vLLM's own thinking_token_budget (one call) and
    still holds every response to the budget, with an answer."""
    cfg = single_model("tiny-lrm", backend="openai", url=f"{vllm_server}/v1")
    cfg.aliases = {}
    cfg.models["tiny-lrm"].native_budget = True
    gw = Gateway(cfg)
    gw.start()
    probs = load_problems("arith", split="test", n=6)
    with Server(cfg, gw) as url:
        for budget in (24, 64, 136):
            for p in probs:
                r = httpx.post(f"{url}/v1/chat/completions", timeout=120,
                               json={"model": "tiny-lrm", "messages": chat(p), "thinking_budget": budget}).json()
                method = build_method(r["brevity"]["method"])  # the canonical spec of what ran
                assert (method.name, method.max, method.native) == ("budget", budget, True), r
                assert r["usage"]["completion_tokens_details"]["reasoning_tokens"] <= budget, r
                assert r["choices"][0]["message"]["content"].startswith("The answer is"), r
    gw.close()


def test_seeded_burst_keeps_vllm_cpu_alive(vllm_server):
    """128 seeded sampled requests at once: more prompt tokens than one vLLM step takes. With chunked prefill
    (vLLM's default), vLLM rewinds the seeded generator of a partly prefilled request, which a CPU generator
    cannot do, and the engine core dies; `start_vllm` turns chunking off. Each seed is honored: every
    problem, asked twice, is sampled the same."""
    from concurrent.futures import ThreadPoolExecutor

    probs = load_problems("arith", split="validation", n=64) * 2

    def ask(p):
        r = httpx.post(f"{vllm_server}/v1/chat/completions", timeout=120, json={
            "model": "tiny-lrm", "messages": chat(p), "temperature": 1.0, "seed": 7, "max_tokens": 24})
        assert r.status_code == 200, r.text[:300]
        m = r.json()["choices"][0]["message"]  # 24 tokens stay inside the thinking (vLLM's reasoning parser)
        return m.get("reasoning_content") or m.get("reasoning")

    with ThreadPoolExecutor(len(probs)) as pool:
        texts = list(pool.map(ask, probs))
    assert texts[:64] == texts[64:] and len(set(texts)) > 32
