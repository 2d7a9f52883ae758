"""The Python API (`brevity.benchmark`, `.method`, `.engine`, `.grade`, `.resolve_format`): the CLI's own bench and
parts, reachable from `import brevity`, which itself loads nothing heavy."""

import subprocess
import sys

import brevity
from brevity.engines.base import Request


def test_import_brevity_stays_light():
    code = "import sys, brevity; print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
    assert set(brevity.__all__) >= {"benchmark", "method", "engine", "grade", "resolve_format"}


def test_bench_returns_the_summary_and_the_records(tmp_path):
    result = brevity.benchmark("tiny-lrm", ["cot", "budget:64"], task="arith", n=4, out=tmp_path / "run")
    assert [r["method"] for r in result.rows] == ["cot", "budget:64"]
    assert len(result.records) == 8 and {r["method"] for r in result.records} == {"cot", "budget:64"}
    assert all(r["thinking_tokens"] <= 64 for r in result.records if r["method"] == "budget:64")
    assert (result.out / "records.jsonl").is_file()


def test_method_engine_grade_and_format():
    m = brevity.method("deer:0.9")
    assert m.spec() == "deer:0.9"
    fmt = brevity.resolve_format("tiny-lrm")
    assert fmt.spec.close == "</think>"
    eng = brevity.engine("hf", "tiny-lrm")
    from brevity.methods.control import prompts
    from brevity.tasks import load_problems

    problem = load_problems("arith", split="test", n=1)[0]
    sol = brevity.method("cot").run([problem], eng)[0]
    assert not sol.correct and sol.prediction is None  # methods answer; the task grades
    assert brevity.score([problem], [sol])[0].correct == brevity.grade(sol.answer, problem.answer) is True
    comp = eng.complete([Request(prompts([problem], eng)[0], 8)])[0]
    assert len(comp.token_ids) == 8
