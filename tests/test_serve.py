"""`brevity serve` over the in-process hf backend: the unmodified openai client, enforced budgets,
streaming equal to non-streaming, batching, cancellation on disconnect, and every bad input a 4xx."""

import json
import threading
import time

import httpx
import pytest

from brevity.methods import build_method
from brevity.serve.app import create_app
from brevity.serve.background import BackgroundServer as Server
from brevity.serve.config import ServeConfig
from brevity.tasks import load_problems
from brevity.tasks.grading import grade_problem
from conftest import tiny_lrm_gateway

ROUTE = "route:kind=cascade;calib_n=40@tiny-lrm"


@pytest.fixture(scope="module")
def gateway():
    cfg, gw = tiny_lrm_gateway(600, {"route:cascade": ROUTE})
    gw.wait_ready()  # the route calibrates in the background
    yield cfg, gw
    gw.close()


@pytest.fixture(scope="module")
def url(gateway):
    with Server(*gateway) as u:
        yield u


@pytest.fixture(scope="module")
def problems():
    return load_problems("arith", split="test", n=24)


def chat(p):
    return [{"role": "user", "content": p.question}]


def test_openai_client_chat_and_completions(url, problems):
    from openai import OpenAI

    client = OpenAI(base_url=f"{url}/v1", api_key="unused")
    p = problems[0]
    r = client.chat.completions.create(model="tiny-lrm", messages=chat(p))
    msg = r.choices[0].message
    assert grade_problem(msg.content, p), msg.content
    assert msg.reasoning_content and msg.reasoning == msg.reasoning_content and "</think>" not in msg.content
    assert r.usage.completion_tokens_details.reasoning_tokens == r.model_extra["brevity"]["thinking_tokens"] > 50

    chunks = list(client.chat.completions.create(model="tiny-lrm", messages=chat(p), stream=True,
                                                 stream_options={"include_usage": True}))
    reasoning = "".join((c.choices[0].delta.model_extra or {}).get("reasoning_content") or "" for c in chunks
                        if c.choices)
    content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert len(chunks) > 20  # token by token, not one blob
    assert (reasoning, content) == (msg.reasoning_content, msg.content)
    reasoning_tokens = r.usage.completion_tokens_details.reasoning_tokens
    assert chunks[-1].usage.completion_tokens_details.reasoning_tokens == reasoning_tokens

    prompt = f"<|im_start|>user\n{p.question}<|im_end|>\n<|im_start|>assistant\n<think>\n"
    c = client.completions.create(model="tiny-lrm", prompt=prompt, max_tokens=400, extra_body={"thinking_budget": 96})
    assert "</think>" in c.choices[0].text and c.usage.completion_tokens_details.reasoning_tokens <= 96
    streamed = "".join(x.choices[0].text for x in client.completions.create(
        model="tiny-lrm", prompt=prompt, max_tokens=400, stream=True, extra_body={"thinking_budget": 96}) if x.choices)
    assert streamed == c.choices[0].text


@pytest.mark.parametrize("budget", [16, 24, 32, 48, 64, 96, 136, 200])
def test_thinking_budget_is_enforced_and_answered(url, problems, budget):
    """Every response thinks at most B tokens and still answers; requests go concurrently (batched)."""
    def one(p, out, i):
        out[i] = httpx.post(f"{url}/v1/chat/completions", timeout=120,
                            json={"model": "tiny-lrm", "messages": chat(p), "thinking_budget": budget}).json()

    out = [None] * 8
    threads = [threading.Thread(target=one, args=(p, out, i)) for i, p in enumerate(problems[:8])]
    [t.start() for t in threads]
    [t.join() for t in threads]
    for r in out:
        assert r["usage"]["completion_tokens_details"]["reasoning_tokens"] <= budget, r
        assert r["choices"][0]["message"]["content"].startswith("The answer is"), r


@pytest.mark.parametrize("early_exit", ["deer", "dynasor", None])
def test_budget_the_size_of_the_phrase(url, gateway, problems, early_exit):
    """The smallest budget that can apply is the closing phrase alone: no token of the model's own."""
    phrase = gateway[1].formats["tiny-lrm"].spec.forced_close
    b = len(gateway[1].formats["tiny-lrm"].encode(phrase))
    r = httpx.post(f"{url}/v1/chat/completions", timeout=60, json={
        "model": "tiny-lrm", "messages": chat(problems[3]), "thinking_budget": b, "early_exit": early_exit}).json()
    assert r["usage"]["completion_tokens_details"]["reasoning_tokens"] == b, r
    assert r["choices"][0]["message"]["reasoning_content"] == phrase


def test_served_budget_matches_the_bench(url, gateway, problems):
    """The gateway runs the registered method: the same answers as `budget:64` run directly."""
    _, gw = gateway
    direct = build_method("budget:64").run(problems, gw.engines["tiny-lrm"])
    served = [httpx.post(f"{url}/v1/chat/completions", timeout=120, json={
        "model": "tiny-lrm", "messages": chat(p), "thinking_budget": 64}).json() for p in problems]
    same = sum(s["choices"][0]["message"]["content"] == d.answer.strip() for s, d in zip(served, direct))
    assert same >= len(problems) - 1


def test_effort_early_exit_and_route(url, gateway, problems):
    p = problems[1]

    def ask(**extra):
        r = httpx.post(f"{url}/v1/chat/completions", timeout=300, json={"model": "tiny-lrm", "messages": chat(p),
                                                                         **extra})
        assert r.status_code == 200, r.text
        return r.json()

    assert ask(reasoning_effort="none")["usage"]["completion_tokens_details"]["reasoning_tokens"] == 0
    low = ask(reasoning_effort="low")
    assert low["usage"]["completion_tokens_details"]["reasoning_tokens"] <= 96 and low["brevity"]["method"].startswith(
        "budget:max=96")
    deer = ask(early_exit={"method": "deer", "threshold": 0.9})
    method = build_method(deer["brevity"]["method"])  # the canonical spec of the method the request ran
    assert (method.name, method.threshold) == ("deer", 0.9) and deer["choices"][0]["message"]["content"]
    capped = ask(early_exit="dynasor", thinking_budget=64)
    assert capped["usage"]["completion_tokens_details"]["reasoning_tokens"] <= 64
    r = httpx.post(f"{url}/v1/chat/completions", timeout=300, json={"model": "route:cascade", "messages": chat(p)})
    assert r.status_code == 200 and r.json()["brevity"]["route"] in ("fast", "strong"), r.text
    assert grade_problem(r.json()["choices"][0]["message"]["content"], p)
    again = httpx.post(f"{url}/v1/chat/completions", timeout=60,
                       json={"model": "route:cascade", "messages": chat(p), "max_tokens": 500})
    assert again.status_code == 200, again.text  # a new max_tokens reuses the calibration
    assert sum(method.name == "route" for _, method in gateway[1].prepared) == 1
    models = httpx.get(f"{url}/v1/models").json()["data"]
    assert {m["id"] for m in models} == {"tiny-lrm", "route:cascade"}


def test_a_route_on_completions_sends_its_sides_text_and_spans(url, gateway, problems):
    """/v1/completions through a route: each choice is the chosen side's text as that side wrote it, with the spans
    it injected listed, the same as asking the side alone (a route used to rebuild the text from its result, with
    a closing marker the model did not write and no span listed)."""
    fmt = gateway[1].formats["tiny-lrm"]
    prompts = [fmt.render(chat(p)) for p in problems[:8]]

    def ask(**body):
        r = httpx.post(f"{url}/v1/completions", timeout=300, json={"prompt": prompts, "max_tokens": 600, **body})
        assert r.status_code == 200, r.text
        return r.json()

    routed = ask(model="route:cascade")
    sides = [c["route"] for c in routed["brevity"]["choices"]]
    strong = [i for i, side in enumerate(sides) if side == "strong"]
    assert strong and len(strong) < len(prompts), sides
    alone = ask(model="tiny-lrm", early_exit="deer")  # the strong side, by itself
    for i, side in enumerate(sides):
        text, spans = routed["choices"][i]["text"], routed["brevity"]["injected"][i]
        assert all(0 <= a < b <= len(text) for a, b in spans)
        if side == "strong":
            assert (text, spans) == (alone["choices"][i]["text"], alone["brevity"]["injected"][i])
        else:
            assert spans == []  # the fast side's cot writes nothing of its own
    assert any(routed["brevity"]["injected"][i] for i in strong)  # DEER's close, listed where it was written


def test_completions_list_the_spans_the_solution_recorded(url, gateway, problems):
    """`brevity.injected` and `Solution.injected` are one record, made where the method writes the text: a raw
    completion lists as injected exactly the texts the same method run directly records on its Solution (DEER's
    re-injected transition words, a forced phrase, a closing marker the model did not write)."""
    from brevity.serve.stream import raw_pieces
    from brevity.tasks import Problem

    _, gw = gateway
    fmt = gw.formats["tiny-lrm"]
    prompts = [fmt.render(chat(p)) for p in problems[:6]]
    for extra in ({"thinking_budget": 40}, {"early_exit": "deer"}):
        r = httpx.post(f"{url}/v1/completions", timeout=300,
                       json={"model": "tiny-lrm", "prompt": prompts, "max_tokens": 600, **extra}).json()
        method = build_method(r["brevity"]["method"])
        direct = method.run([Problem(f"p{i}", "", "", prompt=t) for i, t in enumerate(prompts)],
                            gw.engines["tiny-lrm"])
        for choice, spans, sol in zip(r["choices"], r["brevity"]["injected"], direct):
            served = [choice["text"][a:b] for a, b in spans]
            recorded = [t for was_injected, t in raw_pieces(sol, fmt.spec) if was_injected]
            assert "".join(served) == "".join(recorded) and served, (extra, served, recorded)


def test_concurrent_requests_are_batched(url, problems):
    before = _metric(url, "brevity_batch_size_sum")
    count_before = _metric(url, "brevity_batch_size_count")

    def one(p):
        httpx.post(f"{url}/v1/chat/completions", timeout=120, json={"model": "tiny-lrm", "messages": chat(p),
                                                                    "thinking_budget": 32})

    threads = [threading.Thread(target=one, args=(p,)) for p in problems[:12]]
    [t.start() for t in threads]
    [t.join() for t in threads]
    requests = _metric(url, "brevity_batch_size_sum") - before
    batches = _metric(url, "brevity_batch_size_count") - count_before
    assert requests == 12 and batches < 12  # at least two requests shared a batch
    assert _metric(url, "brevity_thinking_tokens_saved_total") > 0


def test_disconnect_stops_generation(url, gateway, problems):
    _, gw = gateway
    engine = gw.engines["tiny-lrm"]
    start = engine.generated_tokens
    with httpx.stream("POST", f"{url}/v1/chat/completions", timeout=60,
                      json={"model": "tiny-lrm", "messages": chat(problems[2]), "stream": True}) as r:
        lines = r.iter_lines()
        for _ in range(4):
            next(lines)
    deadline = time.time() + 20
    last = -1
    while time.time() < deadline and engine.generated_tokens != last:  # wait until the engine is idle
        last = engine.generated_tokens
        time.sleep(1.0)
    assert engine.generated_tokens - start < 100  # a full answer takes ~250 tokens


def _error(r, status):
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body["error"]) >= {"message", "type", "code"} and body["error"]["message"]
    return body["error"]


def test_bad_input_gets_a_4xx_with_an_openai_error(url, problems):
    ok = {"model": "tiny-lrm", "messages": chat(problems[0])}
    post = lambda body, **kw: httpx.post(f"{url}/v1/chat/completions", timeout=60, **kw,  # noqa: E731
                                         **({"json": body} if not isinstance(body, str) else {"content": body}))
    _error(post('{"model": "tiny-lrm", "messages": [', headers={"content-type": "application/json"}), 400)
    assert _error(post({**ok, "model": "nope"}), 404)["code"] == "model_not_found"
    assert _error(post({**ok, "thinking_budget": -5}), 400)["param"] == "thinking_budget"
    assert _error(post({**ok, "reasoning_effort": "maximum"}), 400)["param"] == "reasoning_effort"
    assert "answer" in _error(post({**ok, "thinking_budget": 599}), 400)["message"]  # no room for close and answer
    assert "phrase" in _error(post({**ok, "thinking_budget": 4}), 400)["message"]
    _error(post({**ok, "max_tokens": 100000}), 400)
    _error(post({**ok, "early_exit": "sometimes"}), 400)
    _error(post({**ok, "early_exit": {"method": "deer", "threshold": 7}}), 400)
    _error(post({**ok, "early_exit": {"method": "deer", "words": "Wait;max_tokens=3"}}), 400)
    _error(post({"model": "route:cascade", "messages": ok["messages"], "thinking_budget": 64}), 400)
    _error(post({**ok, "messages": []}), 400)
    _error(post({**ok, "messages": [{"role": "user", "content": "x " * 5000}]}), 400)
    _error(post({**ok, "messages": [{"role": "user", "content": "x" * (2 << 20)}]}), 413)
    _error(httpx.get(f"{url}/v1/nothing"), 404)


def test_api_key_and_concurrency_limit(gateway, problems):
    cfg, gw = gateway
    keyed = ServeConfig(models=cfg.models, aliases={}, api_key="s3cret")
    keyed.limits.max_concurrency = 1
    with Server(keyed, gw) as u:
        body = {"model": "tiny-lrm", "messages": chat(problems[0])}
        assert _error(httpx.post(f"{u}/v1/chat/completions", json=body), 401)["code"] == "invalid_api_key"
        _error(httpx.post(f"{u}/v1/chat/completions", json=body, headers={"Authorization": "Bearer wrong"}), 401)
        _error(httpx.get(f"{u}/v1/models"), 401)
        _error(httpx.get(f"{u}/metrics"), 401)
        assert httpx.get(f"{u}/health").status_code == 200
        auth = {"Authorization": "Bearer s3cret"}
        assert httpx.get(f"{u}/v1/models", headers=auth).status_code == 200
        assert httpx.get(f"{u}/metrics", headers=auth).status_code == 200
        out = [None] * 6

        def one(i):
            out[i] = httpx.post(f"{u}/v1/chat/completions", json=body, headers=auth, timeout=60)

        threads = [threading.Thread(target=one, args=(i,)) for i in range(6)]
        [t.start() for t in threads]
        [t.join() for t in threads]
        codes = sorted(r.status_code for r in out)
        assert codes[0] == 200 and codes[-1] == 429, codes  # one slot: some wait their turn, the rest are told
        assert _error(next(r for r in out if r.status_code == 429), 429)["type"] == "rate_limit_error"


def test_example_config_loads():
    from pathlib import Path

    from brevity.serve.config import load_config

    cfg = load_config(Path(__file__).parents[1] / "docs" / "serve.example.toml")
    assert cfg.models["tiny-lrm"].efforts["medium"] == 136 and cfg.models["tiny-lrm"].efforts["xhigh"] is None
    assert cfg.aliases == {"route:cascade": "route:cascade@tiny-lrm"}


@pytest.mark.parametrize("body, needle", [
    ('[models.m]\npath = "tiny-lrm"\n[limits]\nmax_tokens = "1k"\n', "limits.max_tokens: Input should be a valid"),
    ('limits = 5\n[models.m]\npath = "tiny-lrm"\n', "limits must be a table"),
    ('[models.m]\npath = "tiny-lrm"\nbatch_size = "big"\n', "models.m.batch_size"),
    ('[models.m]\npath = "tiny-lrm"\n[limits]\nunknown_fields = "drop"\n', "limits.unknown_fields"),
    ('[models.m]\npath = "tiny-lrm"\n[models.m.efforts]\nlow = "many"\n', "models.m.efforts.low"),
    ('[models.m]\npath = "tiny-lrm"\n[limits]\ntimeout_s = 0\n', "limits.timeout_s: Input should be greater than 0"),
    ('max_tokens = 3\n[models.m]\npath = "tiny-lrm"\n', "unknown top-level keys ['max_tokens']"),
    ("models = 3\n", "models must be a table"),
])
def test_a_config_mistake_is_one_line_naming_the_key(body, needle, tmp_path):
    from brevity.errors import BrevityError
    from brevity.serve.config import load_config

    bad = tmp_path / "c.toml"
    bad.write_text(body)
    with pytest.raises(BrevityError) as e:
        load_config(bad)
    assert needle in str(e.value) and "\n" not in str(e.value)


def test_serve_cli_bad_input(tmp_path):
    import subprocess

    r = subprocess.run(["brevity", "serve", "--host", "0.0.0.0"], capture_output=True, text=True)
    assert r.returncode == 2 and "API key" in r.stderr
    bad = tmp_path / "c.toml"
    bad.write_text('[models.m]\npath = "tiny-lrm"\nbackend = "ollama"\n')
    r = subprocess.run(["brevity", "serve", "--config", str(bad)], capture_output=True, text=True)
    assert r.returncode == 2 and "backend" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    bad.write_text('[models.m]\npath = "tiny-lrm"\n[limits]\nmax_tokens = "1k"\n')
    r = subprocess.run(["brevity", "serve", "--config", str(bad)], capture_output=True, text=True)
    assert r.returncode == 2 and "limits.max_tokens" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def _metric(url: str, name: str) -> float:
    total = 0.0
    for line in httpx.get(f"{url}/metrics").text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_fuzz_no_5xx(gateway):
    """Schema-shaped and arbitrary bodies: every answer is 200 or a 4xx, never a 5xx."""
    from fastapi.testclient import TestClient
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st
    from hypothesis_jsonschema import from_schema

    from brevity.serve.protocol import ChatCompletionRequest, CompletionRequest

    cfg, gw = gateway
    small = ServeConfig(models=cfg.models, aliases=cfg.aliases)
    small.limits.max_tokens, small.limits.max_prompt_tokens = 80, 200
    client = TestClient(create_app(small, gw))
    scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
    json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                               | st.dictionaries(st.text(), inner, max_size=4), max_leaves=12)
    # every reasoning-control shape and sampling field, several at once (conflicts must be 400s, not 500s)
    budgets = st.none() | st.integers(-2, 700)
    levels = st.sampled_from(["none", "minimal", "low", "medium", "high", "xhigh", "max"])
    shapes = st.fixed_dictionaries({}, optional={
        "thinking_budget": budgets, "thinking_token_budget": budgets, "reasoning_effort": levels,
        "reasoning": st.fixed_dictionaries({}, optional={"effort": levels, "max_tokens": budgets,
                                                         "exclude": st.booleans(), "enabled": st.booleans()}),
        "thinking": st.fixed_dictionaries({"type": st.sampled_from(["enabled", "disabled"])},
                                          optional={"budget_tokens": budgets}),
        "thinking_config": st.fixed_dictionaries({}, optional={"thinking_budget": budgets,
                                                               "include_thoughts": st.booleans()}),
        "thinkingConfig": st.fixed_dictionaries({}, optional={"thinkingBudget": budgets,
                                                              "includeThoughts": st.booleans()}),
        "enable_thinking": st.booleans(), "think": st.booleans() | levels,
        "chat_template_kwargs": st.fixed_dictionaries({}, optional={"enable_thinking": st.booleans()}),
        "early_exit": st.sampled_from(["deer", "dynasor", "none"]),
        "temperature": st.floats(-1, 3), "top_p": st.floats(0, 1.5), "seed": st.integers(-5, 2 ** 65),
        "stop": st.text(max_size=3) | st.lists(st.text(max_size=3), max_size=6),
        "logprobs": st.booleans() | st.integers(-1, 7), "top_logprobs": st.integers(-1, 25),
        "n": st.integers(0, 3), "tools": st.lists(st.just({"type": "function"}), max_size=1),
        "tool_choice": st.sampled_from(["none", "auto", "required"]), "echo": st.booleans(),
        "best_of": st.integers(0, 3), "user": st.text(max_size=5), "top_k": st.integers(0, 5),
        "max_tokens": st.integers(-1, 100), "max_completion_tokens": st.integers(-1, 100),
        "stream_options": st.fixed_dictionaries({}, optional={"include_usage": st.booleans()})})
    prompt = st.sampled_from(["2 + 3 =", ["a", "b"], [1, 2, 3], [[1, 2], [3]], []])
    shaped = (shapes.map(lambda b: ("/v1/chat/completions", {"model": "tiny-lrm", "messages": [
        {"role": "user", "content": "What is 2 + 3?"}], **b}))
        | st.tuples(shapes, prompt).map(lambda bp: ("/v1/completions", {"model": "tiny-lrm", "prompt": bp[1],
                                                                         **bp[0]})))
    bodies = (from_schema(ChatCompletionRequest.model_json_schema()).map(lambda b: ("/v1/chat/completions", b))
              | from_schema(CompletionRequest.model_json_schema()).map(lambda b: ("/v1/completions", b))
              | shaped | st.tuples(st.sampled_from(["/v1/chat/completions", "/v1/completions"]), json_values))

    @settings(max_examples=160, deadline=None, suppress_health_check=list(HealthCheck))
    @given(bodies)
    def check(case):
        path, body = case
        if isinstance(body, dict) and "model" in body and isinstance(body.get("model"), str) and body.get("stream"):
            body["stream"] = False  # a streamed 200 can only fail inside the stream
        r = client.post(path, content=json.dumps(body), headers={"content-type": "application/json"})
        assert r.status_code < 500, (body, r.text)
        if r.status_code >= 400:
            error = r.json()["error"]
            assert error["message"] and error["code"], (body, error)
            if r.status_code == 400 and error["code"] != "invalid_json":
                assert error["param"] is not None, (body, error)

    check()


def test_a_request_over_the_servers_timeout_ends_with_a_timeout_error():
    """limits.timeout_s: a 504 for a non-streamed request, an error event then [DONE] for a stream; either way
    the generation stops."""
    from conftest import tiny_lrm_gateway

    cfg, gw = tiny_lrm_gateway(1200)
    cfg.limits.timeout_s = 0.3
    body = {"model": "tiny-lrm", "messages": [{"role": "user", "content": "What is 2 + 3?"}], "max_tokens": 1200,
            "ignore_eos": True}
    try:
        with Server(cfg, gw) as url:
            r = httpx.post(f"{url}/v1/chat/completions", json=body, timeout=60)
            assert r.status_code == 504 and r.json()["error"]["code"] == "timeout", r.text
            with httpx.stream("POST", f"{url}/v1/chat/completions", json={**body, "stream": True}, timeout=60) as r:
                lines = [line for line in r.iter_lines() if line.startswith("data: ")]
            assert lines[-1] == "data: [DONE]"
            assert json.loads(lines[-2][6:])["error"]["code"] == "timeout", lines[-3:]
    finally:
        gw.close()


@pytest.mark.parametrize("args,needle", [
    (["--config", "{cfg}", "--model", "tiny-llm"], "--model set the one model served without a config"),
    (["--config", "{cfg}", "--backend", "vllm", "--url", "http://x/v1"], "--backend, --url set the one model"),
    (["--url", "http://127.0.0.1:9/v1"], "url is the openai backend's upstream; the hf backend does not read it"),
    (["--port", "0"], "'--port'"),
    (["--batch-size", "-1"], "'--batch-size'"),
])
def test_serve_options_that_would_be_ignored_are_refused(args, needle, tmp_path, cli):
    cfg = tmp_path / "c.toml"
    cfg.write_text('[models.m]\npath = "tiny-lrm"\n')
    r = cli(["serve", *[a.format(cfg=cfg) for a in args]])
    assert r.returncode == 2 and needle in r.stderr and r.stderr.strip().count("\n") == 0, r.stderr
