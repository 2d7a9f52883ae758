"""Third-party clients against `brevity serve --model tiny-lrm`, run as their users run them:
lm-evaluation-harness (`local-completions` batched, `local-chat-completions`) on the first 200 `arith`
test problems with its regex filter set to Brevity's answer pattern, answer for answer against
`brevity bench`'s cot; and LiteLLM's `openai/` provider reading the reasoning and its token count.
The official openai client's tests are in test_serve_protocol.py. Each client is skipped when its
package is absent (the `[test]` extra installs them)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from brevity.tasks import load_problems
from brevity.tasks.answers import ANSWER_PHRASE_REGEX, clean_number
from brevity.tasks.grading import score_solutions

pytestmark = pytest.mark.server

N = 50  # problems; 200 gave 200 of 200 equal on both clients (docs/findings/serving.md); 50 takes a quarter of the time
MAX_GEN = 1024  # room for tiny-lrm's longest cot on these problems (thinking and answer)
MSG = [{"role": "user", "content": "Omar has 28 pencils. Then Omar buys 5 more pencils. How many pencils now?"}]


@pytest.fixture(scope="module")
def lm_eval() -> list[str]:
    """lm-eval's command line, run by this interpreter; first in each test's fixtures, so that a missing
    package skips before the gateway starts and the bench runs."""
    if importlib.util.find_spec("lm_eval") is None:
        pytest.skip("lm-evaluation-harness not installed (pip install -e '.[test]' installs lm-eval[api])")
    return [sys.executable, "-m", "lm_eval"]


@pytest.fixture(scope="module")
def litellm():
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no fetch of the price list at import
    return pytest.importorskip("litellm", reason="LiteLLM not installed (pip install -e '.[test]' installs it)")


@pytest.fixture(scope="module")
def gateway():
    """`brevity serve --model tiny-lrm` in its own process, every alias ready, shared by the module's clients."""
    from brevity.serve.upstream import start_gateway, stop

    proc, url = start_gateway(["--model", "tiny-lrm"], timeout_s=600)
    try:
        yield url
    finally:
        stop(proc)


@pytest.fixture(scope="module")
def problems():
    return load_problems("arith", split="test", n=N)


@pytest.fixture(scope="module")
def bench_answers(problems, lrm_engine):
    """`brevity bench`'s cot predictions on the same problems, by problem id."""
    from brevity.methods import build_method

    sols = score_solutions(problems, build_method("cot").run(problems, lrm_engine))
    return {s.problem_id: s.prediction for s in sols}


@pytest.fixture(scope="module")
def arith_task(problems, lrm_engine, tmp_path_factory) -> Path:
    """A local lm-eval task: the problems as JSONL (user content as Brevity's format words a question),
    greedy generate_until with no stop strings of its own, and a regex filter on Brevity's answer pattern."""
    root = tmp_path_factory.mktemp("lm_eval_task")
    fmt = lrm_engine.format
    with (root / "arith.jsonl").open("w") as f:
        for p in problems:
            f.write(json.dumps({"id": p.id, "question": fmt.question(p.question), "answer": p.answer}) + "\n")
    task = {
        "task": "brevity_arith",
        "dataset_path": "json",
        "dataset_kwargs": {"data_files": {"test": str(root / "arith.jsonl")}},
        "test_split": "test",
        "output_type": "generate_until",
        "doc_to_text": "{{question}}",
        "doc_to_target": "{{answer}}",
        "generation_kwargs": {"until": [], "max_gen_toks": MAX_GEN, "temperature": 0, "do_sample": False},
        "filter_list": [{"name": "brevity", "filter": [
            {"function": "regex", "regex_pattern": ANSWER_PHRASE_REGEX, "group_select": -1},
            {"function": "take_first"}]}],
        "metric_list": [{"metric": "exact_match", "aggregation": "mean", "higher_is_better": True}],
    }
    (root / "brevity_arith.yaml").write_text(json.dumps(task, indent=1))  # JSON is YAML; no quoting surprises
    return root


def run_lm_eval(cli: list[str], task_dir: Path, out: Path, model: str, model_args: dict, *flags: str) -> list[dict]:
    """lm-eval's CLI end to end; its logged samples, one per problem."""
    cmd = [*cli, "--model", model, "--tasks", "brevity_arith", "--include_path", str(task_dir),
           "--model_args", ",".join(f"{k}={v}" for k, v in model_args.items()),
           "--output_path", str(out), "--log_samples", *flags]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1800)
    assert r.returncode == 0, f"lm-eval failed ({' '.join(cmd)}):\n{r.stderr[-4000:]}"
    files = sorted(out.rglob("samples_brevity_arith_*.jsonl"))
    assert files, f"lm-eval wrote no samples under {out}:\n{r.stderr[-2000:]}"
    return [json.loads(line) for line in files[-1].read_text().splitlines() if line.strip()]


def agreement(samples: list[dict], bench: dict[str, str | None]) -> tuple[int, list]:
    """How many of lm-eval's filtered answers equal the bench's predictions, and the first disagreements."""
    same, diff = 0, []
    for s in samples:
        got = s["filtered_resps"][0]
        got = None if got == "[invalid]" else clean_number(got)
        want = bench[s["doc"]["id"]]
        if got == want:
            same += 1
        elif len(diff) < 5:
            diff.append((s["doc"]["id"], want, got, s["resps"][0][0][-300:]))
    return same, diff


def test_lm_eval_local_completions_batched(lm_eval, gateway, arith_task, bench_answers, lrm_path, tmp_path):
    """Batches of 4 token-id prompts on /v1/completions (8 requests in flight), rendered by lm-eval with the
    model's own chat template (its HF tokenizer)."""
    samples = run_lm_eval(lm_eval, arith_task, tmp_path, "local-completions", {
        "model": "tiny-lrm", "base_url": f"{gateway}/v1/completions", "tokenizer_backend": "huggingface",
        "tokenizer": lrm_path, "tokenized_requests": True, "max_length": 2048, "num_concurrent": 8,
        "max_retries": 1},
        "--batch_size", "4", "--apply_chat_template")
    assert len(samples) == N
    same, diff = agreement(samples, bench_answers)
    print(f"local-completions, batch 4: {same}/{N} answers equal the bench's")
    assert same >= N - 2, f"{same}/{N} answers equal the bench's; first differences: {diff}"


def test_lm_eval_local_chat_completions(lm_eval, gateway, arith_task, bench_answers, tmp_path):
    """One chat request per problem, 32 in flight (the gateway batches them); the answer is the message content."""
    samples = run_lm_eval(lm_eval, arith_task, tmp_path, "local-chat-completions", {
        "model": "tiny-lrm", "base_url": f"{gateway}/v1/chat/completions", "num_concurrent": 32,
        "max_retries": 1}, "--apply_chat_template")
    assert len(samples) == N
    same, diff = agreement(samples, bench_answers)
    print(f"local-chat-completions: {same}/{N} answers equal the bench's")
    assert same >= N - 2, f"{same}/{N} answers equal the bench's; first differences: {diff}"


def test_litellm_sees_reasoning_and_its_tokens(litellm, gateway):
    direct = httpx.post(f"{gateway}/v1/chat/completions", timeout=120,
                        json={"model": "tiny-lrm", "messages": MSG, "max_tokens": 300}).json()
    r = litellm.completion(model="openai/tiny-lrm", api_base=f"{gateway}/v1", api_key="x", messages=MSG,
                           max_tokens=300)
    msg = r.choices[0].message
    assert msg.reasoning_content == direct["choices"][0]["message"]["reasoning_content"] and msg.reasoning_content
    assert msg.content == direct["choices"][0]["message"]["content"]
    assert r.usage.completion_tokens_details.reasoning_tokens == \
        direct["usage"]["completion_tokens_details"]["reasoning_tokens"] > 0
    # streamed: the reasoning arrives in deltas, the same text
    chunks = list(litellm.completion(model="openai/tiny-lrm", api_base=f"{gateway}/v1", api_key="x",
                                     messages=MSG, max_tokens=300, stream=True))
    streamed = "".join(getattr(c.choices[0].delta, "reasoning_content", None) or "" for c in chunks if c.choices)
    assert streamed == msg.reasoning_content


def test_litellm_reasoning_controls(litellm, gateway):
    """The shapes LiteLLM users write reach the gateway: its own `reasoning_effort`, Anthropic's `thinking`
    (LiteLLM refuses it for an openai/ model unless listed in allowed_openai_params), and extra_body."""
    kw = {"model": "openai/tiny-lrm", "api_base": f"{gateway}/v1", "api_key": "x", "messages": MSG,
          "max_tokens": 300}
    anthropic = {"thinking": {"type": "enabled", "budget_tokens": 40}, "allowed_openai_params": ["thinking"]}
    for extra, method in (({"reasoning_effort": "none"}, "nothink"), ({"reasoning_effort": "low"}, "budget:max=96"),
                          (anthropic, "budget:max=40"), ({"extra_body": {"thinking_budget": 24}}, "budget:max=24")):
        r = litellm.completion(**kw, **extra)
        assert r.model_extra["brevity"]["method"].startswith(method), (extra, r.model_extra["brevity"])
        budget = int(method.split("=")[1]) if "=" in method else 0
        assert r.usage.completion_tokens_details.reasoning_tokens <= budget and r.choices[0].message.content
