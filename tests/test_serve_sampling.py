"""Issue 21, items 2 and 4: real per-request sampling on the hf engine, logprobs checked against the model,
the client's stop strings on the answer (never the thinking), and honest streaming (the role comes with the
first token; an upstream's tokens are relayed as it streams them)."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
import torch

from brevity.engines.base import Request
from brevity.engines.sampling import sampling_defaults
from brevity.methods import build_method
from brevity.methods.control import prompts
from brevity.serve.background import BackgroundServer as Server
from brevity.tasks import load_problems
from conftest import tiny_lrm_gateway


@pytest.fixture(scope="module")
def problems():
    return load_problems("arith", split="test", n=4)


@pytest.fixture(scope="module")
def gateway():
    cfg, gw = tiny_lrm_gateway(600)
    yield cfg, gw
    gw.close()


@pytest.fixture(scope="module")
def url(gateway):
    with Server(*gateway) as u:
        yield u


def chat(p):
    return [{"role": "user", "content": p.question}]


def test_same_seed_same_tokens_alone_or_batched(lrm_engine, problems):
    """Each row samples with its own generator: a seeded request's tokens do not depend on its batch mates,
    greedy rows in a mixed batch stay greedy, and another seed draws other tokens."""
    e = lrm_engine
    base = prompts(problems, e)
    req = Request(base[0], 30, temperature=2.0, top_p=0.99, seed=1)
    e.cache.clear()
    alone = e.complete([req])[0]
    e.cache.clear()
    mixed = e.complete([Request(base[1], 30, temperature=0.7, seed=3), req, Request(base[2], 30),
                        Request(base[0], 30, temperature=2.0, top_p=0.99, seed=3)])
    greedy = e.complete([Request(base[2], 30)])[0]
    assert mixed[1].token_ids == alone.token_ids
    assert mixed[2].token_ids == greedy.token_ids
    assert mixed[3].token_ids != alone.token_ids


def test_a_vanishing_temperature_decodes_greedily(lrm_engine, problems):
    """Below vLLM's sampling epsilon a temperature is greedy, as in vLLM; 1e-181 used to overflow the logits
    to inf and crash the sampler (a 500 the gateway fuzz test found)."""
    e = lrm_engine
    p = prompts(problems, e)[0]
    greedy, tiny = e.complete([Request(p, 30), Request(p, 30, temperature=4.7e-181, seed=2)])
    assert tiny.token_ids == greedy.token_ids
    assert not Request(p, 1, temperature=9e-6).sampled and Request(p, 1, temperature=1e-5).sampled


def test_top_logprobs_equal_a_direct_forward_pass(lrm_engine, problems):
    """The engine's logprobs and top alternatives are the model's own distribution (before temperature) at
    each generated position, as one forward pass over prompt and completion gives it."""
    e = lrm_engine
    p = prompts(problems, e)[3]
    c = e.complete([Request(p, 24, temperature=1.0, seed=5, logprobs=True, top_logprobs=4)])[0]
    assert len(c.top_logprobs) == len(c.logprobs) == len(c.token_ids) > 10
    with torch.no_grad():
        logits = e.model()(torch.tensor([list(p) + c.token_ids], device=e.device)).logits[0].float()
    ref = logits.log_softmax(-1)[len(p) - 1:len(p) - 1 + len(c.token_ids)]
    for j, (tok, lp, top) in enumerate(zip(c.token_ids, c.logprobs, c.top_logprobs)):
        assert abs(lp - ref[j, tok].item()) < 1e-3
        vals, ids = ref[j].topk(4)
        assert [i for i, _ in top] == ids.tolist()
        assert max(abs(v - w) for (_, v), w in zip(top, vals.tolist())) < 1e-3


def test_sampling_defaults_come_from_generation_config(tmp_path, lrm_path, gateway):
    """Zoo models set no sampling: greedy. A family that does (Qwen3's do_sample, temperature 0.6, ...) is
    sampled that way when the request sets no temperature."""
    assert sampling_defaults(lrm_path).greedy
    (tmp_path / "generation_config.json").write_text(json.dumps(
        {"do_sample": True, "temperature": 0.6, "top_p": 0.95, "top_k": 20}))
    d = sampling_defaults(tmp_path)
    assert (d.temperature, d.top_p, d.top_k) == (0.6, 0.95, 20)
    (tmp_path / "generation_config.json").write_text(json.dumps({"temperature": 0.6}))  # no do_sample: greedy
    assert sampling_defaults(tmp_path).greedy
    _, gw = gateway
    from brevity.serve.protocol import Sampling

    assert gw.decoding("tiny-lrm", Sampling()).temperature == 0.0


def test_served_greedy_answers_equal_the_bench(url, gateway, problems):
    """No temperature on a zoo model: greedy, the same answers as `cot` in the bench, answer for answer."""
    _, gw = gateway
    direct = build_method("cot:max_tokens=600").run(problems, gw.engines["tiny-lrm"])
    served = [httpx.post(f"{url}/v1/chat/completions", timeout=120, json={
        "model": "tiny-lrm", "messages": chat(p)}).json()["choices"][0]["message"]["content"] for p in problems]
    assert served == [d.answer.strip() for d in direct]


def test_seeded_served_sampling_repeats_alone_and_concurrently(url, problems):
    body = {"model": "tiny-lrm", "messages": chat(problems[0]), "temperature": 2.0, "top_p": 0.99, "seed": 1,
            "max_tokens": 60}
    first = httpx.post(f"{url}/v1/chat/completions", timeout=120, json=body).json()["choices"][0]["message"]
    others = [{**body, "seed": s} for s in (3, 9)] + [{**body, "messages": chat(problems[1])}, body]
    out = [None] * len(others)

    def go(k):
        out[k] = httpx.post(f"{url}/v1/chat/completions", timeout=120, json=others[k]).json()
    threads = [threading.Thread(target=go, args=(k,)) for k in range(len(others))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    again = out[-1]["choices"][0]["message"]
    assert (again["reasoning_content"], again["content"]) == (first["reasoning_content"], first["content"])
    assert out[0]["choices"][0]["message"]["reasoning_content"] != first["reasoning_content"]  # another seed


def test_stop_ends_the_answer_not_the_thinking(url, gateway, problems):
    _, gw = gateway
    m = chat(problems[0])
    r = httpx.post(f"{url}/v1/chat/completions", timeout=120, json={
        "model": "tiny-lrm", "messages": m, "stop": [" is"]}).json()
    c = r["choices"][0]
    assert c["message"]["content"] == "The answer" and c["finish_reason"] == "stop"
    assert " is" in c["message"]["reasoning_content"]  # thinking ran on past the stop string
    r = httpx.post(f"{url}/v1/chat/completions", timeout=120, json={
        "model": "tiny-lrm", "messages": m, "stop": "\n"}).json()
    assert r["choices"][0]["message"]["content"].startswith("The answer is")  # not cut by after-close whitespace
    raw = httpx.post(f"{url}/v1/completions", timeout=120, json={
        "model": "tiny-lrm", "prompt": gw.render("tiny-lrm", m), "stop": [" is"]}).json()["choices"][0]["text"]
    assert raw.endswith("</think>\n\nThe answer") and raw.count(" is") > 0
    budget = httpx.post(f"{url}/v1/chat/completions", timeout=120, json={
        "model": "tiny-lrm", "messages": m, "stop": [" is"], "thinking_budget": 40, "max_tokens": 200}).json()
    assert budget["choices"][0]["message"]["content"] == "The answer"


def test_logprobs_in_both_shapes(url, gateway, problems):
    _, gw = gateway
    m = chat(problems[1])
    r = httpx.post(f"{url}/v1/chat/completions", timeout=120, json={
        "model": "tiny-lrm", "messages": m, "logprobs": True, "top_logprobs": 3, "thinking_budget": 40,
        "max_tokens": 200}).json()
    c = r["choices"][0]
    content = c["logprobs"]["content"]
    assert "".join(e["token"] for e in content).strip() == c["message"]["content"]
    assert all(len(e["top_logprobs"]) == 3 and e["logprob"] <= 0 for e in content)
    assert all(e["logprob"] is not None for e in c["logprobs"]["reasoning_content"])  # injected ones left out
    prompt = gw.render("tiny-lrm", m)
    L = httpx.post(f"{url}/v1/completions", timeout=120, json={
        "model": "tiny-lrm", "prompt": prompt, "logprobs": 2, "thinking_budget": 40,
        "max_tokens": 200}).json()["choices"][0]
    lp = L["logprobs"]
    assert len(lp["tokens"]) == len(lp["token_logprobs"]) == len(lp["top_logprobs"]) == len(lp["text_offset"])
    assert None in lp["token_logprobs"]  # the forced close was injected: no logprob
    gen = [t for t in lp["top_logprobs"] if t is not None]
    assert gen and all(len(t) <= 2 for t in gen)
    j = len(lp["tokens"]) - 3
    assert L["text"][lp["text_offset"][j]:].startswith(lp["tokens"][j])


def test_streamed_role_comes_with_the_first_token(url, problems):
    with httpx.stream("POST", f"{url}/v1/chat/completions", timeout=120, json={
            "model": "tiny-lrm", "messages": chat(problems[2]), "stream": True, "logprobs": True}) as s:
        chunks = [json.loads(x[6:]) for x in s.iter_lines() if x.startswith("data: {")]
    first = chunks[0]["choices"][0]["delta"]
    assert first["role"] == "assistant" and first.get("content", "") == ""  # vLLM's first chunk, and at its time
    assert chunks[1]["choices"][0]["delta"]["reasoning_content"]
    assert sum("role" in c["choices"][0]["delta"] for c in chunks if c["choices"]) == 1
    assert chunks[-1]["choices"][0]["logprobs"]["content"]


@pytest.mark.parametrize("name", ["tiny-lrm", "qwen3"])
def test_role_goes_out_on_the_first_token_even_a_held_marker(lrm_engine, name):
    """A first token that may begin a marker is held back (tiny-lrm: the closing one; Qwen3, whose model writes
    its own `<think>`: the opening one), yet it was generated: the stream says it started then."""
    from brevity.formats import get_format
    from brevity.serve.stream import ResponseStream

    fmt = lrm_engine.format.spec if name == "tiny-lrm" else get_format(name)
    first = fmt.close[0] if fmt.prompt_opens else fmt.open[:2]
    s = ResponseStream(None, fmt)
    assert s.queue.empty()
    s.write(first)  # could be the start of a marker: no text yet
    assert [s.queue.get_nowait()] == [("started", None)] and s.queue.empty()
    rest = " 2" if fmt.prompt_opens else fmt.open[2:] + "2"
    s.write(rest)
    want = fmt.close[0] + " 2" if fmt.prompt_opens else "2"
    assert s.queue.get_nowait() == ("reasoning", want) and s.queue.empty()


class StreamingUpstream:
    """An OpenAI-compatible server whose completions stream `pieces` one every `gap` seconds. Before the last
    piece it waits (up to 10 s) for `first_relayed`: whether the client had passed the first piece on by then is
    `relayed_before_end`, an order of events rather than a timing."""

    def __init__(self, pieces, gap=0.05):
        fake = self
        self.bodies = []
        self.first_relayed, self.relayed_before_end = threading.Event(), None

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                data = json.dumps({"object": "list", "data": [{"id": "m", "object": "model"}]}).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.bodies.append(body)
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                for k, piece in enumerate(pieces):
                    last = k == len(pieces) - 1
                    if last:
                        fake.relayed_before_end = fake.first_relayed.wait(10)
                    ch = {"index": 0, "text": piece, "finish_reason": "stop" if last else None}
                    self.wfile.write(f"data: {json.dumps({'choices': [ch]})}\n\n".encode())
                    self.wfile.flush()
                    time.sleep(gap)
                self.wfile.write(b"data: [DONE]\n\n")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


class Sink:
    cancelled, wants_text = False, True

    def __init__(self, first=None):
        self.got, self.first = [], first

    def write(self, text):
        self.got.append(text)
        if self.first is not None:
            self.first.set()


def test_upstream_tokens_are_relayed_as_they_stream(lrm_path):
    """The openai engine streams from the upstream when the request's sink wants text: the first piece reaches
    the sink long before the completion ends, a tail that may become a stop string is held back, and the
    sampling settings go upstream."""
    from brevity.engines.openai import OpenAIEngine

    up = StreamingUpstream(["Okay", ", so", " 2 +", " 2 is 4.", " STO", "P and more"])
    e = OpenAIEngine("m", base_url=up.url, tokenizer=str(lrm_path))
    sink = Sink(up.first_relayed)
    c = e.complete([Request((1, 2, 3), 50, stop=("STOP",), temperature=0.5, top_p=0.9, seed=4, sink=sink)])[0]
    # the text up to the stop string, as the client gets it: the ids' text, then the straddling token's start
    assert (c.text, c.stop_tail, c.stop_reason) == ("Okay, so 2 + 2 is 4.", " ", "STOP")
    assert "".join(sink.got) == c.text + c.stop_tail
    assert sink.got[0] == "Okay" and up.relayed_before_end  # passed on while the upstream was still writing
    assert all("STO" not in t for t in sink.got)
    sent = up.bodies[-1]
    assert sent["stream"] is True and (sent["temperature"], sent["top_p"], sent["seed"]) == (0.5, 0.9, 4)
    e.close()
    up.server.shutdown()
