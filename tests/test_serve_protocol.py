"""The request model (every reasoning-control shape, conflicts, refusals) and the HTTP behaviour around it:
multi-prompt completions, injected spans, hidden reasoning, error bodies with `param` and `code`."""

import json

import httpx
import pytest
from pydantic import ValidationError

from brevity.serve.background import BackgroundServer as Server
from brevity.serve.config import single_model
from brevity.serve.gateway import Gateway
from brevity.serve.protocol import ChatCompletionRequest, CompletionRequest

MSG = [{"role": "user", "content": "Omar has 28 pencils. Then Omar buys 5 more pencils. How many pencils now?"}]

# (shape, body fields) -> (thinking, budget, effort, hide)
SHAPES = [
    ({"reasoning_effort": "low"}, (True, None, "low", False)),
    ({"reasoning_effort": "none"}, (False, None, "none", False)),
    ({"reasoning": {"effort": "high"}}, (True, None, "high", False)),
    ({"thinking": {"type": "enabled", "budget_tokens": 64}}, (True, 64, None, False)),
    ({"thinking": {"type": "disabled"}}, (False, None, None, False)),
    ({"thinking_config": {"thinking_budget": 0}}, (False, 0, None, False)),
    ({"thinkingConfig": {"thinkingBudget": -1, "includeThoughts": False}}, (True, None, None, True)),
    ({"thinking_config": {"thinking_budget": 48, "include_thoughts": True}}, (True, 48, None, False)),
    ({"reasoning": {"max_tokens": 32, "exclude": True}}, (True, 32, None, True)),
    ({"reasoning": {"enabled": False}}, (False, None, None, False)),
    ({"thinking_token_budget": 40}, (True, 40, None, False)),
    ({"chat_template_kwargs": {"enable_thinking": False}}, (False, None, None, False)),
    ({"think": True}, (True, None, None, False)),
    ({"think": False}, (False, None, None, False)),
    ({"think": "medium"}, (True, None, "medium", False)),
    ({"enable_thinking": True, "thinking_budget": 64}, (True, 64, None, False)),
    ({}, (None, None, None, False)),
]


def chat_req(**kw):
    return ChatCompletionRequest.model_validate({"model": "m", "messages": MSG, **kw})


def error_of(**kw) -> dict:
    with pytest.raises(ValidationError) as e:
        chat_req(**kw)
    err = e.value.errors()[0]
    return {"type": err["type"], **(err.get("ctx") or {}), "loc": err["loc"]}


@pytest.mark.parametrize("shape,want", SHAPES, ids=[json.dumps(s) for s, _ in SHAPES])
def test_every_shape_normalises(shape, want):
    c = chat_req(**shape).control
    assert (c.thinking, c.budget, c.effort, c.hide_reasoning) == want


@pytest.mark.parametrize("a,b", [
    ({"thinking_budget": 100}, {"thinking": {"type": "enabled", "budget_tokens": 200}}),
    ({"enable_thinking": False}, {"reasoning_effort": "high"}),
    ({"thinking_budget": 64}, {"reasoning_effort": "low"}),
    ({"think": False}, {"thinking_config": {"thinking_budget": -1}}),
    ({"reasoning": {"exclude": True}}, {"thinking_config": {"include_thoughts": True}}),
    ({"max_tokens": 10}, {"max_completion_tokens": 20}),
    ({"chat_template_kwargs": {"enable_thinking": False}}, {"early_exit": "deer"}),
])
def test_conflicts_name_both_fields(a, b):
    err = error_of(**a, **b)
    assert err["type"] == "conflicting_parameters", err
    first, second = next(iter(a)), next(iter(b))
    assert first in err["message"] and second in err["message"], err


def test_same_value_twice_and_combinations_are_fine():
    c = chat_req(thinking_budget=100, thinking_token_budget=100, thinking={"type": "enabled", "budget_tokens": 100},
                 enable_thinking=True, early_exit="deer").control
    assert (c.thinking, c.budget, c.early_exit) == (True, 100, "deer")
    assert chat_req(max_tokens=10, max_completion_tokens=10).control.max_tokens == 10


@pytest.mark.parametrize("field,value", [
    ("tools", [{"type": "function", "function": {"name": "f"}}]), ("tool_choice", "required"),
    ("response_format", {"type": "json_object"}), ("use_beam_search", True), ("priority", 2),
    ("n", 2), ("logit_bias", {"5": 10}), ("audio", {"voice": "x"}), ("verbosity", "low"),
])
def test_unimplemented_fields_are_refused_unless_default(field, value):
    err = error_of(**{field: value})
    assert (err["type"], err["param"]) == ("unsupported_parameter", field)


def test_inert_fields_accepted_and_sampling_on_the_view():
    r = chat_req(user="u", metadata={"k": "v"}, store=False, service_tier="auto", n=1, parallel_tool_calls=True,
                 frequency_penalty=0, presence_penalty=0, logit_bias={}, tool_choice="none",
                 response_format={"type": "text"}, temperature=0.7, top_p=0.9, seed=3, stop="\n", logprobs=True,
                 top_logprobs=2)
    s = r.control.sampling
    assert (s.temperature, s.top_p, s.seed, s.stop, s.logprobs, s.top_logprobs) == (0.7, 0.9, 3, ("\n",), True, 2)
    assert r.unknown_fields() == []
    assert chat_req(top_k=5).unknown_fields() == [] and chat_req(top_k=5).control.sampling.top_k == 5  # vLLM's
    assert chat_req(topk=5).unknown_fields() == ["topk"]
    assert error_of(stop=["a", "b", "c", "d", "e"])["param"] == "stop"
    assert error_of(top_logprobs=2)["param"] == "top_logprobs"
    c = CompletionRequest.model_validate({"model": "m", "prompt": "x", "logprobs": 3, "echo": False, "best_of": 1})
    assert (c.control.sampling.logprobs, c.control.sampling.top_logprobs) == (True, 3)
    for field, value in (("echo", True), ("best_of", 2), ("suffix", "end")):
        with pytest.raises(ValidationError, match="unsupported_parameter|not supported"):
            CompletionRequest.model_validate({"model": "m", "prompt": "x", field: value})


def test_prompt_shapes():
    prompts = lambda p: CompletionRequest.model_validate({"model": "m", "prompt": p}).prompts()  # noqa: E731
    assert prompts("a") == ["a"] and prompts(["a", "b"]) == ["a", "b"]
    assert prompts([1, 2, 3]) == [[1, 2, 3]] and prompts([[1], [2, 3]]) == [[1], [2, 3]]


def test_past_reasoning_goes_to_the_template_as_reasoning_content():
    r = chat_req(messages=[MSG[0], {"role": "assistant", "content": "33", "reasoning": "28 + 5 = 33"}, MSG[0]])
    assert r.messages[1].for_template() == {"role": "assistant", "content": "33", "reasoning_content": "28 + 5 = 33"}
    same = chat_req(messages=[MSG[0], {"role": "assistant", "content": "33", "reasoning_content": "x",
                                       "reasoning": "x"}])
    assert same.messages[1].for_template()["reasoning_content"] == "x"
    assert error_of(messages=[{"role": "assistant", "content": "", "reasoning": "a",
                               "reasoning_content": "b"}])["type"] == "conflicting_parameters"


def test_qwen3_template_drops_past_reasoning_and_tiny_lrm_too(lrm_path):
    """The template decides: Qwen3's keeps an assistant turn's reasoning only after the last user turn."""
    from transformers import AutoTokenizer

    from brevity.conformance import standins
    from brevity.formats import resolve_format

    try:
        path = standins.standin_path("qwen3")
    except Exception as e:  # noqa: BLE001
        pytest.skip(f"qwen3 stand-in unavailable: {e}")
    for folder in (path, lrm_path):
        tok = AutoTokenizer.from_pretrained(folder)
        fmt = resolve_format(tok, folder)
        turn = {"role": "assistant", "content": "It is 33.", "reasoning": "SECRET-28+5"}
        before_user = chat_req(messages=[MSG[0], turn, {"role": "user", "content": "And minus 2?"}])
        text = fmt.render([m.for_template() for m in before_user.messages])
        assert "It is 33." in text and "SECRET" not in text
    last = chat_req(messages=[MSG[0], turn])  # qwen3 keeps the reasoning of a turn after the last user message
    assert "SECRET-28+5" in resolve_format(AutoTokenizer.from_pretrained(path), path).render(
        [m.for_template() for m in last.messages])


# HTTP ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def url():
    cfg = single_model("tiny-lrm")
    cfg.aliases = {}
    cfg.limits.max_tokens = 400
    gw = Gateway(cfg)
    gw.start()
    with Server(cfg, gw) as u:
        yield u
    gw.close()


def post(url, path, **body):
    return httpx.post(f"{url}/v1/{path}", json={"model": "tiny-lrm", **body}, timeout=120)


def err(r, status=400):
    assert r.status_code == status, r.text
    e = r.json()["error"]
    assert e["message"] and "param" in e and e["code"], e
    return e


PROMPT = "<|im_start|>user\n{}<|im_end|>\n<|im_start|>assistant\n<think>\n"


def test_completions_take_lists_and_add_nothing_without_extensions(url):
    p = PROMPT.format(MSG[0]["content"])
    one = post(url, "completions", prompt=p, max_tokens=1).json()
    assert "</think>" not in one["choices"][0]["text"] and one["brevity"]["injected"] == [[]]
    from transformers import AutoTokenizer

    from brevity.zoo import resolve_model

    ids = AutoTokenizer.from_pretrained(resolve_model("tiny-lrm")).encode(p)
    many = post(url, "completions", prompt=[p, PROMPT.format("What is 2 + 3?")], max_tokens=40)
    assert many.status_code == 200, many.text
    r = many.json()
    alone = [post(url, "completions", prompt=q, max_tokens=40).json() for q in (p, PROMPT.format("What is 2 + 3?"))]
    assert [c["index"] for c in r["choices"]] == [0, 1]
    assert [c["text"] for c in r["choices"]] == [a["choices"][0]["text"] for a in alone]  # greedy: batched = alone
    for k in ("prompt_tokens", "completion_tokens"):
        assert r["usage"][k] == sum(a["usage"][k] for a in alone)
    by_ids = post(url, "completions", prompt=[ids, ids], max_tokens=40).json()
    assert [c["text"] for c in by_ids["choices"]] == [alone[0]["choices"][0]["text"]] * 2
    err(post(url, "completions", prompt=[p, p], stream=True))
    assert err(post(url, "completions", prompt=[[10 ** 9]]))["param"] == "prompt"


def test_completions_list_injected_spans(url):
    from openai import OpenAI

    client = OpenAI(base_url=f"{url}/v1", api_key="x")
    p = PROMPT.format(MSG[0]["content"])
    c = client.completions.create(model="tiny-lrm", prompt=[p], max_tokens=300, extra_body={"thinking_budget": 40})
    text, spans = c.choices[0].text, c.model_extra["brevity"]["injected"][0]
    assert spans and all(0 <= a < b <= len(text) for a, b in spans)
    assert any("</think>" in text[a:b] for a, b in spans)  # the closing marker is the method's, and listed
    off = client.completions.create(model="tiny-lrm", prompt=p, max_tokens=60,
                                    extra_body={"thinking": {"type": "disabled"}})
    a, b = off.model_extra["brevity"]["injected"][0][0]
    assert a == 0 and "</think>" in off.choices[0].text[a:b]  # the off switch's prefill, shown as injected
    chunks = list(client.completions.create(model="tiny-lrm", prompt=p, max_tokens=20, stream=True,
                                            stream_options={"include_usage": True}))
    assert chunks[-1].usage.completion_tokens > 0 and not chunks[-1].choices


@pytest.mark.server
@pytest.mark.parametrize("shape", [
    {"reasoning_effort": "low"}, {"reasoning": {"effort": "low"}},
    {"thinking": {"type": "enabled", "budget_tokens": 40}}, {"thinkingConfig": {"thinkingBudget": 40}},
    {"thinking_config": {"thinking_budget": 40, "include_thoughts": True}}, {"thinking_token_budget": 40},
    {"think": "low"}, {"enable_thinking": True, "thinking_budget": 40},
    {"reasoning": {"max_tokens": 40, "exclude": True}},
])
def test_openai_client_every_shape(url, shape):
    from openai import OpenAI

    client = OpenAI(base_url=f"{url}/v1", api_key="x")
    native = {k: v for k, v in shape.items() if k == "reasoning_effort"}  # the client's own argument
    extra = {k: v for k, v in shape.items() if k not in native}
    r = client.chat.completions.create(model="tiny-lrm", messages=MSG, max_tokens=300, extra_body=extra, **native)
    m = r.model_extra["brevity"]["method"]
    assert m.startswith("budget:max=96" if "low" in json.dumps(shape) else "budget:max=40"), m
    hidden = "exclude" in json.dumps(shape)
    assert (r.choices[0].message.model_extra.get("reasoning_content") is None) == hidden
    assert r.usage.completion_tokens_details.reasoning_tokens > 0 and r.choices[0].message.content


@pytest.mark.server
def test_openai_client_thinking_off_shapes(url):
    from openai import OpenAI

    client = OpenAI(base_url=f"{url}/v1", api_key="x")
    for shape in ({"thinking": {"type": "disabled"}}, {"think": False}, {"thinking_config": {"thinking_budget": 0}},
                  {"chat_template_kwargs": {"enable_thinking": False}}, {"reasoning": {"enabled": False}},
                  {"enable_thinking": False}):
        r = client.chat.completions.create(model="tiny-lrm", messages=MSG, max_tokens=100, extra_body=shape)
        assert r.model_extra["brevity"]["method"].startswith("nothink"), shape
    r = client.chat.completions.create(model="tiny-lrm", messages=MSG, reasoning_effort="none", max_tokens=100)
    assert r.usage.completion_tokens_details.reasoning_tokens == 0


def test_hidden_reasoning_same_usage_no_text(url):
    shown = post(url, "chat/completions", messages=MSG, thinking_budget=40).json()
    hidden = post(url, "chat/completions", messages=MSG, thinking_budget=40,
                  thinking_config={"include_thoughts": False}).json()
    assert hidden["usage"] == shown["usage"] and hidden["choices"][0]["message"]["content"]
    assert hidden["choices"][0]["message"]["reasoning_content"] is None and shown["choices"][0]["message"]["reasoning"]
    with httpx.stream("POST", f"{url}/v1/chat/completions", timeout=120, json={
            "model": "tiny-lrm", "messages": MSG, "thinking_budget": 40, "stream": True,
            "reasoning": {"exclude": True}, "stream_options": {"include_usage": True}}) as s:
        events = [json.loads(x[6:]) for x in s.iter_lines() if x.startswith("data: {")]
    assert not any("reasoning" in c["choices"][0]["delta"] for c in events if c["choices"])
    assert events[-1]["usage"] == shown["usage"]
    assert err(post(url, "completions", prompt="x", reasoning={"exclude": True}))["param"] == "reasoning.exclude"


def test_errors_name_param_and_code(url):
    e = err(post(url, "chat/completions", messages=MSG, thinking_budget=100,
                 thinking={"type": "enabled", "budget_tokens": 200}))
    assert e["code"] == "conflicting_parameters" and "thinking.budget_tokens" in e["message"]
    assert err(post(url, "chat/completions", messages=MSG, tools=[{"type": "function"}]))["code"] == \
        "unsupported_parameter"
    e = err(post(url, "chat/completions", messages=MSG, topk=3))
    assert (e["param"], e["code"]) == ("topk", "unknown_parameter")
    e = err(post(url, "chat/completions", messages=[{"role": "user", "content": 5}]))
    assert e["param"].startswith("messages[0].content") and e["code"] == "invalid_value"
    e = err(post(url, "chat/completions", messages=MSG, reasoning={"effort": "high", "summary": "auto"}))
    assert (e["param"], e["code"]) == ("reasoning.summary", "unknown_parameter")
    e = err(post(url, "chat/completions", messages=MSG, n=2))
    assert (e["param"], e["code"]) == ("n", "unsupported_parameter")
    e = err(post(url, "chat/completions", messages=MSG, thinking_budget=399))
    assert e["param"] == "thinking_budget" and "400" in e["message"]  # the server's real max_tokens limit
    e = err(post(url, "chat/completions", messages=MSG, max_completion_tokens=5000))
    assert e["param"] == "max_completion_tokens" and "400" in e["message"]
    assert err(httpx.get(f"{url}/v1/models/nope"), 404)["code"] == "model_not_found"
    assert httpx.get(f"{url}/v1/models/tiny-lrm").json()["id"] == "tiny-lrm"
    e = err(httpx.post(f"{url}/v1/responses", json={"model": "tiny-lrm", "input": "hi"}), 404)
    assert "/v1/chat/completions" in e["message"]


def test_chunked_body_over_the_limit_is_413(url):
    def chunks():
        yield b'{"model": "tiny-lrm", "messages": [{"role": "user", "content": "'
        for _ in range(40):
            yield b"x" * 65536
        yield b'"}]}'

    r = httpx.post(f"{url}/v1/chat/completions", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413, r.text


def test_unknown_fields_ignored_when_configured(url):
    cfg = single_model("tiny-lrm")
    cfg.aliases = {}
    cfg.limits.unknown_fields = "ignore"
    from fastapi.testclient import TestClient

    from brevity.serve.app import create_app

    gw = Gateway(cfg)
    gw.engines, gw.tokenizers, gw.formats, gw.schedulers = {"x": None}, {}, {}, {}  # never started
    client = TestClient(create_app(cfg, gw))
    # unknown fields pass the request model; the plan then fails on the (unstarted) model, not on topk
    r = client.post("/v1/chat/completions", json={"model": "nope", "messages": MSG, "topk": 3})
    assert r.status_code == 404 and r.json()["error"]["code"] == "model_not_found", r.text
