"""End to end: `brevity bench` on a small n, resume, and one-line errors with exit code 2."""

import json
import os
import subprocess
import sys

import pytest

BENCH = [sys.executable, "-m", "brevity.cli", "bench"]


def run(args, **kw):
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run(args, capture_output=True, text=True, env=env, timeout=600, **kw)


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench") / "run"
    r = run(BENCH + ["--n", "12", "--latency-n", "2", "--methods", "cot,nothink,budget:64,budget:160",
                     "--out", str(out), "--no-progress"])
    assert r.returncode == 0, r.stderr
    return out, r


def test_bench_writes_every_output(small_run):
    out, r = small_run
    records = [json.loads(line) for line in (out / "records.jsonl").read_text().splitlines()]
    assert len(records) == 4 * 12
    assert len({x["record_id"] for x in records}) == 48
    summary = json.loads((out / "summary.json").read_text())
    keys = {"method", "model", "n", "accuracy", "accuracy_ci95", "mean_thinking_tokens", "mean_generated_positions",
            "outcome_efficiency", "latency_p50_s", "latency_p95_s", "peak_memory_mb", "compression_vs_cot", "aes"}
    assert all(keys <= set(row) for row in summary)
    rows = {row["method"]: row for row in summary}
    assert rows["cot"]["compression_vs_cot"] == pytest.approx(1.0)
    assert rows["nothink"]["mean_thinking_tokens"] == 0 and rows["nothink"]["outcome_efficiency"] is None
    assert rows["budget:64"]["mean_thinking_tokens"] <= 64
    assert rows["cot"]["latency_n"] == 2
    assert (out / "pareto.png").stat().st_size > 1000
    assert "budget:64" in (out / "report.md").read_text()
    assert "budget:64" in r.stdout


def test_resume_skips_done_records_and_drops_a_torn_line(small_run, tmp_path):
    out, _ = small_run
    path = out / "records.jsonl"
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:-3]) + "\n" + lines[-3][: len(lines[-3]) // 2])  # torn write
    r = run(BENCH + ["--n", "12", "--latency-n", "2", "--methods", "cot,nothink,budget:64,budget:160",
                     "--out", str(out), "--resume", "--no-progress"])
    assert r.returncode == 0, r.stderr
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(records) == 48 and len({x["record_id"] for x in records}) == 48


def test_regrade_scores_records_again_without_generating(small_run, tmp_path):
    """A run whose verdicts were spoiled (as an older grader might have left them) is scored again from its
    answers: the records, summary and report come back as the bench wrote them; nothing is generated."""
    import shutil

    from typer.testing import CliRunner

    from brevity.cli import app

    out = tmp_path / "run"
    shutil.copytree(small_run[0], out)
    path = out / "records.jsonl"
    original = [json.loads(line) for line in path.read_text().splitlines()]
    summary = json.loads((out / "summary.json").read_text())
    spoiled = [{**r, "correct": not r["correct"], "prediction": "spoiled"} for r in original]
    path.write_text("".join(json.dumps(r) + "\n" for r in spoiled))
    (out / "summary.json").unlink()
    result = CliRunner().invoke(app, ["regrade", str(out)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "48 records scored again; 48 changed" in " ".join(result.output.split())
    regraded = [json.loads(line) for line in path.read_text().splitlines()]
    firsts = {r["record_id"]: r["first_answer_tokens"] for r in original}
    for r, o in zip(regraded, original):  # a flipped record lost its first-mention count, the only difference
        assert {**r, "first_answer_tokens": firsts[r["record_id"]]} == o
    assert [(r["method"], r["accuracy"], r["n"]) for r in json.loads((out / "summary.json").read_text())] == \
        [(r["method"], r["accuracy"], r["n"]) for r in summary]
    assert "budget:64" in (out / "report.md").read_text()
    bad = run([sys.executable, "-m", "brevity.cli", "regrade", str(tmp_path / "nothing")])
    assert bad.returncode == 2 and "holds no bench run" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("args,needle", [
    (["--methods", "nope"], "unknown method"),
    (["--task", "mult:order=lsd", "--methods", "cot@tiny-mult-terse"], "cannot decode tiny-mult-terse"),
    (["--methods", "budget:0"], "positive"),
    (["--methods", "budget:x"], "not a valid int"),
    (["--task", "nope"], "unknown task"),
    (["--model", "/nonexistent/folder"], "unknown model"),
    (["--n", "0"], "--n': Input should be greater than or equal to 1"),
    (["--latency-n", "-1"], "--latency-n"),
])
def test_bad_input_is_one_line_exit_2(args, needle, tmp_path, cli):
    r = cli(["bench", *args, "--out", tmp_path / "o"])
    assert r.returncode == 2
    assert needle in r.stderr and r.stderr.strip().count("\n") == 0 and "Traceback" not in r.stderr


def test_two_models_with_one_folder_name_are_refused(tmp_path):
    """Rows are labelled by folder name: coconut/stage-1 and pause-curriculum/stage-1 would merge."""
    for parent in ("a", "b"):
        (tmp_path / parent / "stage-1").mkdir(parents=True)
        (tmp_path / parent / "stage-1" / "config.json").write_text("{}")
    specs = ",".join(f"coconut@{tmp_path / p / 'stage-1'}" for p in ("a", "b"))
    r = run(BENCH + ["--methods", specs, "--out", str(tmp_path / "o")])
    assert r.returncode == 2 and "share the name 'stage-1'" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "o").exists()


def test_out_is_a_file_and_mismatched_resume(small_run, tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    r = run(BENCH + ["--out", str(f), "--n", "2"])
    assert r.returncode == 2 and "is a file" in r.stderr
    out, _ = small_run
    before = (out / "records.jsonl").read_text()
    r = run(BENCH + ["--out", str(out), "--resume", "--task", "arith:steps=2", "--n", "2"])
    assert r.returncode == 2 and "other settings" in r.stderr
    r = run(BENCH + ["--out", str(out), "--n", "2"])
    assert r.returncode == 2 and "--resume" in r.stderr
    assert (out / "records.jsonl").read_text() == before


def test_not_a_model_folder(tmp_path):
    (tmp_path / "m").mkdir()
    r = run(BENCH + ["--model", str(tmp_path / "m"), "--out", str(tmp_path / "o")])
    assert r.returncode == 2 and "config.json" in r.stderr


def test_malformed_records_line_is_refused(small_run, tmp_path):
    import shutil

    out, _ = small_run
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    lines = (copy / "records.jsonl").read_text().splitlines()
    lines[3] = "{not json"
    (copy / "records.jsonl").write_text("\n".join(lines) + "\n")
    r = run(BENCH + ["--n", "12", "--latency-n", "2", "--methods", "cot", "--out", str(copy), "--resume"])
    assert r.returncode == 2 and "records.jsonl:4" in r.stderr
    assert (copy / "records.jsonl").read_text().splitlines()[3] == "{not json"


def test_help_is_fast():
    """Fast because `--help` loads no model library: checked by what is imported, not by a clock."""
    r = run([sys.executable, "-m", "brevity.cli", "--help"])
    assert r.returncode == 0 and "bench" in r.stdout
    r = run([sys.executable, "-c", "import sys, brevity.cli; print('torch' in sys.modules)"])
    assert r.stdout.strip() == "False"


@pytest.mark.parametrize("args,needle", [
    (["nope", "--out", "{tmp}/m"], "No such command 'nope'"),
    (["tokenskip", "--out", "{tmp}/m", "--steps", "0"], "'--steps': Input should be greater than or equal to 1"),
    (["tokenskip", "--out", "{tmp}/m", "--lr", "0"], "'--lr': must be positive"),
    (["shortest", "--out", "{tmp}/m", "--base", "/nonexistent/folder"], "unknown model"),
    (["l1", "--out", "{tmp}"], "not empty"),
    (["l1", "--out", "{tmp}/m", "--conditions", "tale-ep"], "not an option of l1; recipes that read it: shortest"),
    (["shortest", "--out", "{tmp}/m", "--save-stages"], "recipes that read it: coconut, pause-curriculum, icot"),
    (["pause", "--out", "{tmp}/m", "--save-stages"], "not an option of pause"),
    (["tokenskip", "--out", "{tmp}/m", "--reinit-untrained"], "not an option of tokenskip"),
    (["tokenskip", "--out", "{tmp}/m", "--width", "256"], "not an option of tokenskip"),
    (["compact", "--out", "{tmp}/m", "--steps", "10"], "not an option of compact"),
    (["icot", "--out", "{tmp}/m", "--width", "-1"], "'--width': Input should be greater than or equal to 0"),
    (["icot", "--out", "{tmp}/m", "--base", "tiny-mult-terse", "--task", "mult", "--width", "200"], "multiple of"),
    (["shortest", "--out", "{tmp}/m", "--conditions", "nosuchmethod"], "nosuchmethod"),
    (["shortest", "--out", "{tmp}/m", "--sampler", "tiny-lrm-instruct"], "give --conditions too"),
    (["tokenskip", "--out", "{tmp}/m", "--resume"], "no checkpoint"),
    (["coconut", "--out", "{tmp}/m", "--resume"], "no checkpoint"),
    (["coconut", "--out", "{tmp}/m", "--stages", "0", "--stage0-steps", "0"], "would train nothing"),
    (["pause", "--out", "{tmp}/m", "--final-steps", "10"], "recipes that read it: coconut, pause-curriculum, icot"),
    (["coconut", "--out", "{tmp}/m", "--smoothing", "2"], "recipes that read it: icot"),
    (["tokenskip", "--out", "{tmp}/m", "--lr-schedule", "linear"], "'--lr-schedule'"),
    (["tokenskip", "--out", "{tmp}/m", "--eval-every", "10"], "go together"),
    (["coconut", "--out", "{tmp}/m", "--lora-rank", "8"], "recipes that read it: instruct, tokenskip, shortest, l1"),
    (["coconut", "--out", "{tmp}/m", "--questions", "10"], "recipes that read it: tokenskip, shortest"),
    (["tokenskip", "--out", "{tmp}/m", "--group-size", "4"], "recipes that read it: rl-length, l1"),
    (["rl-length", "--out", "{tmp}/m", "--group-size", "1"], "greater than or equal to 2"),
    (["rl-length", "--out", "{tmp}/m", "--lora-rank", "8"], "not an option of rl-length"),
    (["l1", "--out", "{tmp}/m", "--warmup-steps", "0", "--lora-rank", "8"], "no warm start"),
    (["rl-length", "--out", "{tmp}/m", "--resume"], "no checkpoint"),
])
def test_train_bad_input_is_one_line_exit_2(args, needle, tmp_path, cli):
    (tmp_path / "x").write_text("occupied")
    r = cli(["train"] + [a.format(tmp=tmp_path) for a in args])
    assert r.returncode == 2, r.stderr
    assert needle in r.stderr and r.stderr.strip().count("\n") == 0 and "Traceback" not in r.stderr


def test_a_rebuilt_model_replaces_its_old_records_in_the_report():
    from brevity.bench.report import current_weights

    old = [{"method": "cot", "model": "m", "model_hash": "a", "problem_id": str(i)} for i in range(3)]
    new = [{"method": "cot", "model": "m", "model_hash": "b", "problem_id": str(i)} for i in range(3)]
    other = [{"method": "cot", "model": "n", "model_hash": "c", "problem_id": "0"}]
    runs = [{"method": "cot", "model": "m", "seconds": 1.0}, {"method": "cot", "model": "m", "model_hash": "b"},
            {"method": "cot", "model": "n", "seconds": 2.0}]
    rows, kept = current_weights(old + other + new, runs)
    assert rows == other + new
    assert kept == runs[1:]


@pytest.mark.parametrize("content,fields,needle", [
    (None, "", "no file at"),
    ("", "", "holds no records"),
    ('{"q": "1+1?"}\n', ";question=q;answer=gold", "has no field 'gold'"),
])
def test_jsonl_task_bad_input_is_one_line_exit_2(tmp_path, content, fields, needle, cli):
    f = tmp_path / "set.jsonl"
    if content is not None:
        f.write_text(content)
    r = cli(["bench", "--task", f"jsonl:path={f}{fields}", "--methods", "cot", "--out", tmp_path / "o"])
    assert r.returncode == 2, r.stderr
    assert needle in r.stderr and r.stderr.strip().count("\n") == 0 and "Traceback" not in r.stderr


def test_jsonl_bench_skips_and_counts_prompts_longer_than_the_context(tmp_path):
    f = tmp_path / "own.jsonl"
    rows = [{"q": "What is 2 + 3?", "a": 5}, {"q": "Half of one? $\\frac{1}{2}$", "a": "\\frac{1}{2}"},
            {"q": "long " * 2000, "a": "1"}]  # tiny-lrm has 1536 positions
    f.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    out = tmp_path / "o"
    r = run(BENCH + ["--task", f"jsonl:path={f};question=q;answer=a", "--methods", "cot", "--n", "3",
                     "--latency-n", "0", "--max-tokens", "16", "--out", str(out), "--no-progress"])
    assert r.returncode == 0, r.stderr
    (row,) = json.loads((out / "summary.json").read_text())
    assert row["n"] == 2 and row["skipped_long_prompts"] == 1
    assert "prompt longer than the model's context" in (out / "report.md").read_text()


@pytest.mark.parametrize("args,needle", [
    (["--url", "{closed}"], "no OpenAI-compatible server answers"),
    (["--url", "{fake}"], "does not serve 'tiny-lrm'; it lists a, b"),
    (["--url", "{fake}", "--served-model", "c"], "does not serve 'c'"),
    (["--url", "{fake}", "--concurrency", "0"], "--concurrency': Input should be greater than or equal to 1"),
    ([], "--engine openai needs --url"),
    (["--url", "{fake}", "--model", "org/remote-model"], "--tokenizer is required"),
    (["--url", "{fake}", "--methods", "coconut@tiny-coconut-mult"], "run it with --engine hf"),
    (["--url", "{fake}", "--served-model", "a", "--methods", "route:cascade"], "does not serve 'tiny-llm'"),
])
def test_openai_engine_bad_input_is_one_line_exit_2_and_writes_nothing(args, needle, tmp_path, fake_openai,
                                                                        closed_url, cli):
    fake = fake_openai(models=["a", "b"])
    args = [a.format(closed=closed_url, fake=fake.url) for a in args]
    r = cli(["bench", "--engine", "openai", "--methods", "cot", *args, "--out", tmp_path / "o", "--no-progress"])
    assert r.returncode == 2, r.stderr
    assert needle in r.stderr and r.stderr.strip().count("\n") == 0 and "Traceback" not in r.stderr
    assert not (tmp_path / "o").exists()
    assert fake.posts == 0


@pytest.mark.parametrize("args,needle", [
    (["--engine", "vllm", "--vllm-venv", "/nonexistent/venv"], "no vLLM venv at /nonexistent/venv"),
    (["--engine", "vllm", "--vllm-venv", "/nonexistent/venv", "--methods", "coconut@tiny-coconut-mult"],
     "run it with --engine hf"),
    (["--engine", "hf", "--url", "http://127.0.0.1:1/v1"], "belong to --engine openai"),
    (["--engine", "openai", "--url", "{fake}", "--url", "tiny-llm={fake}"], "no method uses: tiny-llm"),
    (["--engine", "tpu"], "unknown engine 'tpu'"),
    (["--engine", "llama-cpp"], "no llama-cpp-python server venv at /nonexistent/llama"),
])
def test_engine_options_bad_input_is_one_line_exit_2(args, needle, tmp_path, fake_openai, monkeypatch, cli):
    monkeypatch.setenv("BREVITY_LLAMA_CPP_SERVER", "/nonexistent/llama")
    fake = fake_openai(models=["tiny-lrm"])
    args = [a.format(fake=fake.url) for a in args]
    r = cli(["bench", "--methods", "cot", *args, "--out", tmp_path / "o", "--no-progress"])
    assert r.returncode == 2, r.stderr
    assert needle in r.stderr and r.stderr.strip().count("\n") == 0 and "Traceback" not in r.stderr
    assert not (tmp_path / "o").exists()


@pytest.mark.server
def test_bench_on_a_vllm_server_gives_the_hf_records(vllm_server, small_run, tmp_path):
    """`--engine openai` against vLLM's CPU build: the same records as the hf engine, field for field (greedy
    decoding; float32 kernels may differ on a rare near-tie, so 11 of 12 per method must agree)."""
    out = tmp_path / "vllm"
    r = run(BENCH + ["--engine", "openai", "--url", f"{vllm_server}/v1", "--n", "12", "--latency-n", "2",
                     "--methods", "cot,budget:64", "--out", str(out), "--no-progress", "--concurrency", "8"])
    assert r.returncode == 0, r.stderr
    remote = [json.loads(line) for line in (out / "records.jsonl").read_text().splitlines()]
    local = {(x["method"], x["problem_id"]): x for x in
             map(json.loads, (small_run[0] / "records.jsonl").read_text().splitlines())}
    assert len(remote) == 24 and all(set(x) == set(local[x["method"], x["problem_id"]]) for x in remote)
    assert {x["engine"] for x in remote} == {"openai"} and {x["model"] for x in remote} == {"tiny-lrm"}
    fields = ("prediction", "correct", "thinking_tokens", "answer_tokens", "thinking", "answer", "finish_reason")
    for method in ("cot", "budget:64"):
        same = [all(x[f] == local[method, x["problem_id"]][f] for f in fields) for x in remote if x["method"] == method]
        assert sum(same) >= 11, method
