"""vLLM's sampling fields on a real format: the Qwen3 stand-in (its own template and 151k vocabulary, random
weights) behind `brevity serve`, asked with the official openai client. Random weights repeat one token, which
makes each field's effect plain."""

from __future__ import annotations

import pytest

from conftest import qwen3_standin_client

QUESTION = [{"role": "user", "content": "What is 2 + 3?"}]


@pytest.fixture(scope="module")
def client():
    yield from qwen3_standin_client()


def ask(c, **extra):
    r = c.chat.completions.create(model="qwen3", messages=QUESTION, max_tokens=24,
                                  extra_body={"thinking_budget": 0, **extra})
    return r.choices[0].message.content, r.choices[0].finish_reason, r.usage.completion_tokens


def test_stop_token_ids_and_bad_words_in_the_real_vocabulary(client):
    c, gw = client
    plain, finish, used = ask(c)
    assert finish == "length" and used == 24 and plain
    tok = gw.tokenizers["qwen3"]
    first = tok(plain, add_special_tokens=False).input_ids[0]  # the answer's first token
    word = tok.decode([first])
    stopped = ask(c, stop_token_ids=[first])
    assert stopped[:2] == (word, "stop")  # ended at that id, which stays in the text (vLLM: a non-special one)
    banned, _, _ = ask(c, bad_words=[word])
    assert banned and not banned.startswith(word) and banned != plain  # that token sequence never comes out
    assert ask(c, ignore_eos=True, min_tokens=20)[1:] == ("length", 24)
