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
