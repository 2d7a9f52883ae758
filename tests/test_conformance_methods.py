"""Every decode-time method on real formats (R1-Distill-Qwen, R1-Distill-Llama, QwQ, Qwen3, gpt-oss): a
scripted engine writes the way each family writes, through its real tokenizer, so thinking counts,
budgets, forced closes, probes, stream splits and `reasoning_tokens` are checked against numbers worked
out here from the tokenizer alone. Then `brevity bench` and the gateway run every method on the
random-weight stand-ins with the real hf engine, and their logged prompts are the model's own template."""

import json
import subprocess
import sys

import httpx
import pytest

from brevity.conformance import standins, vocab
from brevity.methods import build_method
from brevity.tasks import Problem
from brevity.tasks.grading import score_solutions

NAMES = standins.standin_names()
QUESTION = "What is 2 + 3?"
PROBLEMS = [Problem(id="q1", question=QUESTION, answer="5")]


def _require(name: str):
    fam = vocab.family(standins.spec(name).family)
    needed = vocab.source_file(fam["vocab"])
    if not needed.is_file() or not standins.template_path(name).is_file():
        pytest.skip(f"{needed.name} not fetched (scripts/fetch_llama_cpp_models.sh)")
    return standins.standin_path(name)


@pytest.fixture(scope="module", params=NAMES)
def scripted(request):
    from brevity.conformance.scripted import ScriptedEngine

    return ScriptedEngine(_require(request.param))


def expected(engine):
    """The script's thinking ids as the model writes them after its opening marker, worked out from the
    tokenizer: markers are atomic tokens, so the pieces between them encode on their own."""
    fmt, s = engine.format, engine.script
    think = fmt.encode(engine.lead + s.thinking)
    return think, engine.tokenizer.decode(think)


def solve(spec: str, engine):
    return score_solutions(PROBLEMS, build_method(spec).run(PROBLEMS, engine))[0]


def test_format_resolution(scripted):
    want = {"r1-distill-qwen": "deepseek-r1", "r1-distill-llama": "deepseek-r1", "qwq": "qwq", "qwen3": "qwen3",
            "gpt-oss": "gpt-oss", "deepseek-v3.1": "deepseek-v3", "ministral-3-reasoning": "mistral",
            "gemma-4": "gemma4", "seed-oss": "seed-oss"}[scripted.model_name]
    assert scripted.format.name == want
    gen = scripted.generation_config_eos()
    assert gen <= scripted.format.stop_ids  # every eos id the family's generation_config.json lists


def test_cot_counts_thinking_without_markers(scripted):
    think, text = expected(scripted)
    s = score_solutions(PROBLEMS, build_method("cot").run(PROBLEMS, scripted, log_prompts=True))[0]
    assert s.thinking_tokens == len(think) and s.thinking == text
    assert s.answer.strip() == scripted.script.answer.strip() and s.correct and not s.answer_truncated
    fmt = scripted.format
    assert s.prompt == fmt.render(fmt.messages(QUESTION)) and s.prompt_tokens == len(fmt.encode(s.prompt))
    assert fmt.spec.open not in s.thinking and fmt.spec.close not in s.thinking


def test_budget_forces_the_close_at_exactly_n(scripted):
    think, _ = expected(scripted)
    fmt = scripted.format
    phrase = fmt.spec.forced_close
    n = len(fmt.encode(phrase)) + 10
    s = solve(f"budget:{n}", scripted)
    assert s.thinking_tokens == n and s.extra.get("forced")
    assert s.thinking == scripted.tokenizer.decode(think[:10]) + phrase
    assert s.correct and s.answer.strip() == scripted.script.answer.strip()
    # Room for the whole thought and the step that writes the closing marker: the model closes it itself.
    roomy = solve(f"budget:{len(think) + 1 + len(fmt.encode(phrase))}", scripted)
    assert roomy.thinking_tokens == len(think) and not roomy.extra.get("forced")


def test_nothink_uses_the_familys_off_form(scripted):
    s = score_solutions(PROBLEMS, build_method("nothink").run(PROBLEMS, scripted, log_prompts=True))[0]
    fmt = scripted.format
    off = {"deepseek-r1": "<think>\nOkay, I think I have finished thinking.\n</think>\n\n",
           "qwq": "<think>\nOkay, I think I have finished thinking.\n</think>\n\n",
           "qwen3": "<|im_start|>assistant\n<think>\n\n</think>\n\n",
           "gpt-oss": fmt.spec.open + fmt.spec.close,
           "mistral": "[/INST][THINK]Okay, I think I have finished thinking.\n[/THINK]",
           "deepseek-v3": "<｜Assistant｜><think></think>",  # llama.cpp's copy opens, then closes
           "gemma4": "<|turn>model\n<|channel>thought\n<channel|>",
           "seed-oss": "directly start answering the question.</seed:cot_budget_reflect>\n</seed:think>"}[fmt.name]
    assert s.prompt.endswith(off), s.prompt[-80:]
    if fmt.spec.switch:  # the template's own off rendering, not a prefill beside it
        assert s.prompt == fmt.render(fmt.messages(QUESTION), thinking=False)
    assert s.thinking_tokens == 0 and s.correct and s.answer.strip() == scripted.script.answer.strip()


def test_budget_wait_extends_a_short_thought(scripted):
    think, _ = expected(scripted)
    fmt = scripted.format
    s = solve(f"budget-wait:max=400;min={len(think) + 5};waits=1", scripted)
    assert s.extra.get("waits") == 1
    assert s.thinking_tokens == len(think) + len(fmt.encode("Wait")) + len(fmt.encode(scripted.script.resume))


def test_deer_exits_at_the_first_transition_with_a_boxed_probe(scripted):
    think, text = expected(scripted)
    fmt = scripted.format
    cut = text[:text.index("\nWait")]
    kept = 0  # a token straddling the stop string goes (as the hf engine does); its text before the stop stays
    while kept < len(think) and cut.startswith(scripted.tokenizer.decode(think[:kept + 1])):
        kept += 1
    tail = cut[len(scripted.tokenizer.decode(think[:kept])):]
    s = solve("deer", scripted)
    assert s.extra.get("exit") == "confident" and s.correct
    # nothing the model wrote before "Wait" is lost, and it is tokenized with the exit text as the tokenizer would
    assert s.thinking_tokens == kept + len(fmt.encode(tail + fmt.spec.exit_text))
    assert s.thinking.strip().startswith(cut.strip())
    probe = fmt.probe_suffix()
    seam = len(fmt.encode(tail + fmt.spec.exit_text)) - len(fmt.encode(fmt.spec.exit_text))
    assert s.probe_tokens == len(probe) + seam + len(fmt.encode(scripted.script.value))
    assert scripted.tokenizer.decode(probe).endswith(fmt.spec.inducer)


def test_dynasor_exits_after_three_agreeing_probes(scripted):
    fmt = scripted.format
    s = solve("dynasor:every=8", scripted)
    assert s.extra.get("exit") == "consistent"
    assert s.thinking_tokens == 24 + len(fmt.encode(fmt.spec.exit_text)) and s.correct


def test_nowait_bans_the_familys_reflection_tokens(scripted):
    with scripted.recording() as seen:
        s = solve("nowait", scripted)
    wait_ids = {scripted.format.encode(w)[0] for w in ("Wait", " Wait") if len(scripted.format.encode(w)) == 1}
    banned = {t for r in seen for t, b in r.logit_bias if b == -100}
    assert wait_ids and wait_ids <= banned and s.correct


def test_prompt_level_methods_render_through_the_template(scripted):
    from brevity.methods.prompting import templates

    s = score_solutions(PROBLEMS, build_method("cod").run(PROBLEMS, scripted, log_prompts=True))[0]
    fmt = scripted.format
    system = templates()["cod"]["system"]
    messages = [{"role": "system", "content": system}, {"role": "user", "content": fmt.question(QUESTION)}]
    assert s.prompt == fmt.render(messages) and s.correct


# The gateway over the scripted engine: reasoning_content, streaming and usage --------------------------------
@pytest.fixture(scope="module")
def gateway(scripted):
    from brevity.serve.background import BackgroundServer
    from brevity.serve.config import single_model
    from brevity.serve.gateway import Gateway

    class Scripted(Gateway):
        def _engine(self, m):
            return scripted

    cfg = single_model(scripted.model_name, path=str(scripted.model_path))
    cfg.limits.max_tokens = 2048
    gw = Scripted(cfg)
    gw.start()
    with BackgroundServer(cfg, gw) as url:
        yield url, scripted
    gw.close()


def _chat(url, name, stream=False, **extra):
    body = {"model": name, "messages": [{"role": "user", "content": QUESTION}], "stream": stream, **extra}
    if not stream:
        return httpx.post(f"{url}/v1/chat/completions", json=body, timeout=60).json()
    body["stream_options"] = {"include_usage": True}
    reasoning, content, use = "", "", None
    with httpx.stream("POST", f"{url}/v1/chat/completions", json=body, timeout=60) as r:
        for line in r.iter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            chunk = json.loads(line[6:])
            use = chunk.get("usage") or use
            for ch in chunk["choices"]:
                reasoning += ch["delta"].get("reasoning_content") or ""
                content += ch["delta"].get("content") or ""
    return reasoning, content, use


@pytest.mark.parametrize("extra", [{}, {"thinking_budget": 40}, {"early_exit": "deer"}, {"reasoning_effort": "none"}])
def test_served_reasoning_split_and_usage(gateway, extra):
    url, engine = gateway
    think, text = expected(engine)
    r = _chat(url, engine.model_name, **extra)
    msg, use = r["choices"][0]["message"], r["usage"]
    assert msg["content"] == engine.script.answer.strip()
    n = use["completion_tokens_details"]["reasoning_tokens"]
    if not extra:
        assert n == len(think) and msg["reasoning_content"] == text
    elif "thinking_budget" in extra:
        assert n == 40 and r["brevity"]["forced_close"]
    elif "reasoning_effort" in extra:
        assert n == 0 and msg["reasoning_content"] == ""
    spec = engine.format.spec
    assert spec.close not in msg["reasoning_content"] and spec.open not in msg["reasoning_content"]
    reasoning, content, streamed_use = _chat(url, engine.model_name, stream=True, **extra)
    assert (reasoning, content) == (msg["reasoning_content"], msg["content"])
    assert streamed_use["completion_tokens_details"]["reasoning_tokens"] == n


@pytest.mark.parametrize("stream", [False, True])
def test_served_stop_applies_to_the_answer_after_the_familys_close_whitespace(gateway, stream):
    """`stop: "\n"` ends the answer at its first line break, not at the whitespace the family writes after its
    closing marker (R1, Qwen3: a blank line), and not inside the thinking, which has line breaks of its own."""
    url, engine = gateway
    think, text = expected(engine)
    want = engine.script.answer.split("\n")[0]
    if not stream:
        r = _chat(url, engine.model_name, stop="\n")
        msg = r["choices"][0]["message"]
        assert (msg["content"], msg["reasoning_content"]) == (want, text)
        assert r["choices"][0]["finish_reason"] == "stop"
    else:
        assert _chat(url, engine.model_name, stream=True, stop="\n")[:2] == (text, want)


def test_served_completion_keeps_the_models_own_markers(gateway):
    url, engine = gateway
    fmt = engine.format
    prompt = fmt.render(fmt.messages(QUESTION))
    r = httpx.post(f"{url}/v1/completions", json={"model": engine.model_name, "prompt": prompt}, timeout=60).json()
    spec = fmt.spec
    opener = "" if spec.prompt_opens else engine.opener
    assert r["choices"][0]["text"] == f"{opener}{engine.script.thinking}{spec.close}{spec.after_close}" \
                                      f"{engine.script.answer}"


# The real hf engine on the random-weight stand-ins, through the CLI and the gateway ---------------------------
METHODS = "cot,nothink,budget:24,budget-wait:max=40;min=30,nowait,deer,dynasor:8,cod,tale-ep"


def test_bench_cli_runs_every_method_with_each_models_template(tmp_path, cli):
    """One bench run, every method on every stand-in (one process: the suite stays fast); then `brevity regrade`
    scores its records again, in every family's format, to the same verdicts."""
    from brevity.formats import load_format

    folders = {name: _require(name) for name in NAMES}
    specs = ",".join(f"{m}@{folder}" for folder in folders.values() for m in METHODS.split(","))
    out = tmp_path / "run"
    r = subprocess.run([sys.executable, "-m", "brevity.cli", "bench", "--model", str(folders["qwen3"]), "--methods",
                        specs, "--n", "1", "--max-tokens", "48", "--answer-tokens", "16", "--latency-n", "0",
                        "--log-prompts", "--out", str(out), "--no-progress"], capture_output=True, text=True,
                       timeout=900)
    assert r.returncode == 0, r.stderr[-2000:]
    rows = [json.loads(x) for x in (out / "records.jsonl").read_text().splitlines()]
    for name, folder in folders.items():
        fmt = load_format(folder)
        mine = [row for row in rows if row["model"] == folder.name]
        names = {row["method"].split(":")[0] for row in mine}
        assert names == {"cot", "nothink", "budget", "budget-wait", "nowait", "deer", "dynasor", "cod", "tale-ep"}
        for row in mine:
            assert row["prompt"] and row["prompt_tokens"] == len(fmt.encode(row["prompt"])), (name, row["method"])
            method = row["method"].split(":")[0]
            if method == "cot":
                assert row["prompt"] == fmt.render(fmt.messages(_question(row)))
            if method == "budget":
                assert row["thinking_tokens"] <= 24
    again = cli(["regrade", out])
    assert again.returncode == 0, again.stderr
    assert f"{len(rows)} records scored again; 0 changed" in " ".join((again.stdout + again.stderr).split())
    regraded = [json.loads(x) for x in (out / "records.jsonl").read_text().splitlines()]
    assert [(r["correct"], r["prediction"]) for r in regraded] == [(r["correct"], r["prediction"]) for r in rows]


def _question(row):
    from brevity.tasks import load_problems

    return next(p.question for p in load_problems("arith", split="test", n=2) if p.id == row["problem_id"])


def test_a_thinking_method_on_a_model_without_a_thinking_section_is_refused(tmp_path):
    folder = _require("qwen3")
    import shutil

    plain = tmp_path / "plain-model"
    shutil.copytree(folder, plain)
    (plain / "chat_template.jinja").write_text(
        "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
        "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
    base = [sys.executable, "-m", "brevity.cli", "bench", "--model", str(plain), "--n", "1", "--latency-n", "0",
            "--no-progress"]
    r = subprocess.run(base + ["--methods", "budget:32", "--out", str(tmp_path / "o")], capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 2 and "no thinking section" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()
    ok = subprocess.run(base + ["--methods", "cot", "--max-tokens", "8", "--out", str(tmp_path / "c")],
                        capture_output=True, text=True, timeout=300)
    assert ok.returncode == 0, ok.stderr[-2000:]


def test_unknown_format_name_is_one_line(tmp_path):
    r = subprocess.run([sys.executable, "-m", "brevity.cli", "bench", "--format", "nope", "--n", "1",
                        "--out", str(tmp_path / "o")], capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and "unknown format 'nope'" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("name", NAMES)
def test_gateway_logs_the_models_own_template(name, tmp_path):
    from brevity.serve.background import BackgroundServer
    from brevity.serve.config import single_model
    from brevity.serve.gateway import Gateway

    folder = _require(name)
    cfg = single_model(name, path=str(folder), answer_tokens=8)
    cfg.log_prompts = str(tmp_path / "prompts.jsonl")
    cfg.limits.max_tokens = 48
    cfg.models[name].efforts["low"] = 40
    gw = Gateway(cfg)
    gw.start()
    try:
        with BackgroundServer(cfg, gw) as url:
            for extra in ({}, {"thinking_budget": 24}, {"early_exit": "deer"}, {"reasoning_effort": "none"},
                          {"reasoning_effort": "low"}):
                r = httpx.post(f"{url}/v1/chat/completions", timeout=120, json={
                    "model": name, "messages": [{"role": "user", "content": QUESTION}], **extra})
                assert r.status_code == 200, r.text
                if "thinking_budget" in extra:
                    assert r.json()["usage"]["completion_tokens_details"]["reasoning_tokens"] <= 24
    finally:
        gw.close()
    fmt = gw.formats[name]
    logged = [json.loads(x) for x in (tmp_path / "prompts.jsonl").read_text().splitlines()]
    assert len(logged) == 5 and all(x["format"] == fmt.name for x in logged)
    assert logged[0]["prompt"] == fmt.render([{"role": "user", "content": QUESTION}])
    # an effort reaches the template's own effort kwarg where it has one (gpt-oss), beside the enforced budget
    assert ("Reasoning: low" in logged[4]["prompt"]) == (fmt.spec.effort == "reasoning_effort")
    assert ("Reasoning: low" in logged[4]["prompt"]) == (name == "gpt-oss")


@pytest.mark.parametrize(("name", "template", "want"), [
    ("qwq", "Qwen-QwQ-32B.jinja", "qwq"),
    ("r1-distill-qwen", "deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja", "deepseek-r1")])
def test_llama_cpp_edited_copies_still_open_thinking(name, template, want):
    """llama.cpp's copies add an enable_thinking branch that closes thinking in a default render; the format is the
    original family's, its prompts open thinking, and thinking off is the template's own off form, closed once."""
    from transformers import AutoTokenizer

    from brevity.conformance.vocab import models_dir
    from brevity.formats import resolve_format

    tok = AutoTokenizer.from_pretrained(_require(name))
    tok.chat_template = (models_dir() / "templates" / template).read_text()
    fmt = resolve_format(tok)
    assert fmt.name == want and fmt.spec.switch == "enable_thinking"
    assert fmt.render(fmt.messages(QUESTION)).endswith("<think>\n")
    off = fmt.render(fmt.messages(QUESTION), thinking=False)
    assert off.count("</think>") == 1 and off.endswith("<think>\n</think>")


def test_served_raw_completion_turns_thinking_off_and_refuses_template_kwargs(gateway):
    url, engine = gateway
    fmt = engine.format
    prompt = fmt.render(fmt.messages(QUESTION))
    body = {"model": engine.model_name, "prompt": prompt}
    r = httpx.post(f"{url}/v1/completions", json={**body, "thinking_budget": 0}, timeout=60).json()
    assert r["usage"]["completion_tokens_details"]["reasoning_tokens"] == 0
    text = r["choices"][0]["text"]  # the off switch's prefill (injected, listed), then the answer
    (start, end), = r["brevity"]["injected"][0]
    assert start == 0 and fmt.spec.close in text[:end]
    off = fmt.render(fmt.messages(QUESTION), thinking=False)
    if fmt.spec.switch and off.startswith(prompt):  # the template's own off form (Qwen3's empty block)
        assert prompt + text[:end] == off
    elif fmt.spec.switch:  # Gemma 4 and Seed-OSS switch a system turn too: a rendered prompt gets the tail
        assert text[:end] == fmt.spec.off_form and off.endswith(fmt.spec.off_form)
    else:
        assert text[:end] == fmt.off_prefill()
    assert text.endswith(engine.script.answer)
    bad = httpx.post(f"{url}/v1/completions", json={**body, "chat_template_kwargs": {"enable_thinking": False}},
                     timeout=60)
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "chat_template_kwargs"
