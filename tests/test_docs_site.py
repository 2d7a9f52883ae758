"""The documentation site: `mkdocs build --strict` (no broken link or anchor, no page left out of the site, the
Python API rendered from the docstrings) and the CLI reference, generated from the commands, is the committed one."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_site_builds_strictly(tmp_path):
    r = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(tmp_path / "site")],
                       cwd=ROOT, capture_output=True, text=True, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    site = tmp_path / "site"
    assert (site / "index.html").is_file() and (site / "reference" / "cli" / "index.html").is_file()
    api = (site / "reference" / "python" / "index.html").read_text()
    assert "RunContext" in api and "benchmark" in api  # the Python API, rendered from the docstrings


def test_the_cli_reference_is_current():
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        from cli_reference import reference
    finally:
        sys.path.pop(0)
    page = ROOT / "docs" / "reference" / "cli.md"
    assert page.read_text() == reference(), "run: python scripts/cli_reference.py > docs/reference/cli.md"
    assert "## `brevity train coconut`" in page.read_text() and "| `--n` | int range >= 1 | `200` |" in page.read_text()
