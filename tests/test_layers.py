"""The layers of DESIGN.md point down only, as the import-linter contracts in pyproject.toml say: a module
never imports (even lazily, even through another module) from a higher layer, and only the zoo's own build and
the recipes import the zoo's chat format."""

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_hold():
    exe = shutil.which("lint-imports")
    if exe is None:
        pytest.fail("import-linter is not installed; the [test] extra installs it")
    run = subprocess.run([exe, "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, (run.stdout + run.stderr)[-4000:]
    assert "2 kept, 0 broken" in run.stdout, run.stdout[-2000:]


def test_no_code_is_written_twice():
    """pylint's duplicate-code check, as the architecture asks: no six lines repeated anywhere in the package
    (comments, docstrings, imports and signatures aside, pylint's defaults). The heavy libraries are kept out of
    astroid's inference: the check compares lines only, and inferring into transformers costs 100 s here."""
    import sys

    run = subprocess.run([sys.executable, "-m", "pylint", "--disable=all", "--enable=duplicate-code",
                          "--min-similarity-lines=6", "--score=n",
                          "--ignored-modules=transformers,torch,vllm,trl,peft,mergekit,datasets,accelerate",
                          "src/brevity"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, (run.stdout + run.stderr)[-4000:]
