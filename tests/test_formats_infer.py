"""Formats read off chat templates by rendering them (`brevity.formats.infer`), on llama.cpp's template corpus."""

from __future__ import annotations

import subprocess
import sys

import pytest

from brevity.conformance import standins, vocab
from brevity.errors import BrevityError
from brevity.formats import ModelFormat, detect, resolve_format
from brevity.formats.infer import infer, renderer

QUESTION = "What is 2 + 3?"


def _templates() -> dict[str, str]:
    folder = vocab.models_dir() / "templates"
    if not folder.is_dir():
        pytest.skip("llama.cpp's templates not fetched (scripts/fetch_llama_cpp_models.sh)")
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(folder.glob("*.jinja"))
            if "think" in p.read_text(encoding="utf-8").lower()}


@pytest.fixture(scope="module")
def corpus() -> dict[str, str]:
    return _templates()


@pytest.fixture(scope="module")
def qwen3_tok():
    from transformers import AutoTokenizer

    fam = vocab.family(standins.spec("qwen3").family)
    if not vocab.gguf_path(fam["vocab"]).is_file():
        pytest.skip("the qwen2 vocabulary is not fetched (scripts/fetch_llama_cpp_models.sh)")
    return AutoTokenizer.from_pretrained(standins.standin_path("qwen3"))


def _fmt(tok, template: str):
    """The template's format over the Qwen3 vocabulary (rendering only: markers of other families need not be
    stable token sequences there)."""
    tok.chat_template = template
    spec, why = detect(tok)
    return ModelFormat(spec, tok, frozenset(), why)


def test_every_thinking_template_but_functionary_is_steerable(corpus):
    assert len(corpus) == 45
    plain = [name for name, t in corpus.items() if not infer(t, renderer(t)).thinks]
    assert plain == ["meetkai-functionary-medium-v3.1.jinja"]


@pytest.mark.parametrize(("template", "open_", "close", "switch"), [
    ("mistralai-Ministral-3-14B-Reasoning-2512.jinja", "[THINK]", "[/THINK]", None),
    ("ByteDance-Seed-OSS.jinja", "<seed:think>", "</seed:think>", "thinking_budget"),
    ("google-gemma-4-31B-it.jinja", "<|channel>thought", "<channel|>", "enable_thinking"),
    ("Cohere2MoE.jinja", "<|START_THINKING|>", "<|END_THINKING|><|START_TEXT|>", "reasoning"),
    ("MiniMax-M3.jinja", "<mm:think>", "</mm:think>", "thinking_mode"),
    ("unsloth-Apriel-1.5.jinja", "<thinking>", "</thinking>", None),
    ("upstage-Solar-Open-100B.jinja", "<|think|>", "<|end|><|begin|>assistant<|content|>", "reasoning_effort"),
    ("Apertus-8B-Instruct.jinja", "<|inner_prefix|>", "<|inner_suffix|>", "enable_thinking"),
    ("Kimi-K3.jinja", "<|open|>think<|sep|>", "<|close|>think<|sep|><|open|>response<|sep|>", "thinking"),
    ("tencent-Hy3.jinja", "<think:opensource>", "</think:opensource>", "reasoning_effort"),
    ("deepseek-ai-DeepSeek-V3.1.jinja", "<think>", "</think>", "enable_thinking"),
])
def test_markers_and_switch_read_off_the_rendering(corpus, template, open_, close, switch):
    inf = infer(corpus[template], renderer(corpus[template]))
    assert (inf.open, inf.close, inf.switch) == (open_, close, switch)
    assert inf.evidence and inf.evidence[0][0] == "markers"


def test_effort_kwargs_are_found(corpus):
    gpt = infer(corpus["openai-gpt-oss-120b.jinja"], renderer(corpus["openai-gpt-oss-120b.jinja"]))
    assert gpt.effort == "reasoning_effort" and gpt.effort_levels == ("low", "medium", "high") and gpt.switch is None
    hy = infer(corpus["tencent-Hy3.jinja"], renderer(corpus["tencent-Hy3.jinja"]))
    assert hy.effort == "reasoning_effort" and hy.effort_levels == ("low", "high")  # no_think is the off switch
    assert (hy.switch_on, hy.switch_off) == ("high", "no_think")


def test_no_template_closes_thinking_twice(corpus, qwen3_tok):
    """Thinking off is the template's own off form where its switch renders one, a prefill only where none does."""
    for name, template in corpus.items():
        if name.startswith("meetkai-functionary"):  # no thinking; needs a bos_token the Qwen3 vocabulary lacks
            continue
        fmt = _fmt(qwen3_tok, template)
        if not fmt.spec.thinks:
            continue
        msgs = fmt.messages(QUESTION)
        off = fmt.render(msgs, thinking=False)
        tail = off[off.rindex(QUESTION):]
        assert tail.count(fmt.spec.close) <= 1, name
        on = fmt.render(msgs)
        assert on != off, name


@pytest.mark.parametrize("template", ["deepseek-ai-DeepSeek-V3.1.jinja", "deepseek-ai-DeepSeek-V3.2.jinja",
                                      "deepseek-ai-DeepSeek-V4.jinja"])
def test_deepseek_v3_family_thinks_on_and_off(corpus, qwen3_tok, template):
    fmt = _fmt(qwen3_tok, corpus[template])
    assert fmt.spec.prompt_opens and fmt.spec.switch
    msgs = fmt.messages(QUESTION)
    on, off = fmt.render(msgs), fmt.render(msgs, thinking=False)
    assert on.rstrip().endswith("<think>") and off.endswith("</think>") and off.count("</think>") == 1
    thought, answer = "Two plus three is five.", "The answer is 5."
    split = fmt.split(fmt.encode(f"{thought}</think>{answer}"))
    assert fmt.tokenizer.decode(split.thinking_ids) == thought and fmt.tokenizer.decode(split.answer_ids) == answer
    assert split.closed
    # thinking off: the whole reply is the answer, and a raw prompt turned off equals the template's own off render
    assert fmt.thinking_off(on) == off


@pytest.mark.parametrize(("template", "off_form"), [("Qwen-Qwen3-0.6B.jinja", "<think>\n\n</think>\n\n"),
                                                    ("HuggingFaceTB-SmolLM3-3B.jinja", "<think>\n\n</think>\n")])
def test_raw_prompt_thinking_off_is_the_templates_own_form(corpus, qwen3_tok, template, off_form):
    fmt = _fmt(qwen3_tok, corpus[template])
    on = fmt.render(fmt.messages(QUESTION))
    assert fmt.thinking_off(on) == on + off_form  # (SmolLM3's off render also says /no_think in its system turn)
    assert fmt.render(fmt.messages(QUESTION), thinking=False).endswith(off_form)
    assert "finished thinking" not in fmt.thinking_off(on)


def test_a_template_that_cannot_render_a_chat_is_one_line(qwen3_tok):
    qwen3_tok.chat_template = "{{ raise_exception('no') }}"
    with pytest.raises(BrevityError, match="does not render a one-message chat"):
        resolve_format(qwen3_tok)


def test_a_named_format_the_template_contradicts_is_refused(corpus, qwen3_tok):
    qwen3_tok.chat_template = corpus["Qwen-Qwen3-0.6B.jinja"]
    with pytest.raises(BrevityError, match=r"format gpt-oss says open is .* renders '<think>'"):
        resolve_format(qwen3_tok, name="gpt-oss")
    with pytest.raises(BrevityError, match="format deepseek-r1 says prompt_opens is True"):
        resolve_format(qwen3_tok, name="deepseek-r1")


def test_formats_show_prints_evidence_and_refuses_a_contradiction(qwen3_tok):
    folder = str(standins.standin_path("qwen3"))
    ok = subprocess.run([sys.executable, "-m", "brevity.cli", "formats", "show", folder], capture_output=True,
                        text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert "switch: enable_thinking=True renders" in ok.stdout and "markers:" in ok.stdout
    bad = subprocess.run([sys.executable, "-m", "brevity.cli", "formats", "show", folder, "--format", "gpt-oss"],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1 and "gpt-oss" in bad.stderr


def test_effort_and_budget_map_to_the_templates_own_kwargs(corpus, qwen3_tok):
    gpt = _fmt(qwen3_tok, corpus["openai-gpt-oss-120b.jinja"])
    assert gpt.template_effort("low") == {"reasoning_effort": "low"}
    assert gpt.template_effort("xhigh") == {"reasoning_effort": "high"} and gpt.template_effort("none") == {}
    kimi = _fmt(qwen3_tok, corpus["Kimi-K3.jinja"])
    assert kimi.template_effort("medium") == {"thinking_effort": "high"}
    hy = _fmt(qwen3_tok, corpus["tencent-Hy3.jinja"])
    assert hy.template_effort("low") == {"reasoning_effort": "low"}
    low = hy.render(hy.messages(QUESTION), **hy.template_effort("low"))
    assert "reasoning_effort:low" in low and low.rstrip().endswith("<think:opensource>")  # the level stays; on
    assert "reasoning_effort:no_think" in hy.render(hy.messages(QUESTION), thinking=False)
    seed = _fmt(qwen3_tok, corpus["ByteDance-Seed-OSS.jinja"])
    assert seed.template_effort(None, 64) == {"thinking_budget": 64}
    assert "thinking budget, which is 64" in seed.render(seed.messages(QUESTION), thinking_budget=64)
    assert _fmt(qwen3_tok, corpus["Qwen-Qwen3-0.6B.jinja"]).template_effort("low", 64) == {}


def test_a_switch_passed_as_a_template_kwarg_must_agree(corpus, qwen3_tok):
    """render sets the template's switch; a caller's own value for it is honored only where it agrees."""
    kimi = _fmt(qwen3_tok, corpus["Kimi-K3.jinja"])  # switch `thinking`
    kimi.check_switch({"thinking": True}, thinking=True)
    with pytest.raises(BrevityError, match="chat_template_kwargs.thinking is this model's thinking switch"):
        kimi.check_switch({"thinking": False}, thinking=True)
    with pytest.raises(BrevityError, match="disagrees with thinking off"):
        kimi.check_switch({"thinking": True}, thinking=False)
    hy = _fmt(qwen3_tok, corpus["tencent-Hy3.jinja"])  # switch and effort: reasoning_effort
    hy.check_switch({"reasoning_effort": "low"}, thinking=True)
    with pytest.raises(BrevityError):
        hy.check_switch({"reasoning_effort": "no_think"}, thinking=True)
    seed = _fmt(qwen3_tok, corpus["ByteDance-Seed-OSS.jinja"])  # thinking_budget: 0 is off, False is not 0
    seed.check_switch({"thinking_budget": 64}, thinking=True)
    with pytest.raises(BrevityError):
        seed.check_switch({"thinking_budget": 0}, thinking=True)


def test_a_bad_option_is_clicks_one_line_usage_error():
    r = subprocess.run([sys.executable, "-m", "brevity.cli", "formats", "show", "--nope", "x"], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 2 and "No such option: --nope" in r.stderr and "Traceback" not in r.stderr
