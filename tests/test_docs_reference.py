"""The hand-written reference pages list exactly what the code has: every serve-config key (and no key the config
refuses), every record field a bench writes. A field added to the code without its line here fails."""

import dataclasses
import re
from pathlib import Path

import pytest

from brevity.serve.config import Limits, ModelConfig, ServeConfig

pytestmark = pytest.mark.fast

DOCS = Path(__file__).resolve().parents[1] / "docs"


def table_keys(page: str, heading: str) -> set[str]:
    """The first-column keys of the table under `heading` (up to the next heading)."""
    text = (DOCS / page).read_text()
    section = text.split(heading, 1)[1].split("\n#", 1)[0]
    return {m.group(1) for m in re.finditer(r"^\| `\[?([\w.]+?)\]?` \|", section, re.M)}


def test_serve_config_reference_lists_every_key():
    top = {f.name for f in dataclasses.fields(ServeConfig)} - {"models", "limits"}
    assert table_keys("reference/serve-config.md", "### Top level") == top
    model = {f.name for f in dataclasses.fields(ModelConfig)} - {"name", "efforts"} | {"models.NAME.efforts"}
    assert table_keys("reference/serve-config.md", "### `[models.NAME]`") == model
    assert table_keys("reference/serve-config.md", "### `[limits]`") == {f.name for f in dataclasses.fields(Limits)}


def test_record_schema_lists_every_field(tmp_path):
    from brevity.bench.report import summarize_records
    from brevity.methods import Solution

    records = table_keys("reference/records.md", "## `records.jsonl`")
    written = {f.name for f in dataclasses.fields(Solution)} - {"logprobs"}
    assert records == written | {"generated_positions", "record_id", "model_hash", "model_path"}
    s = Solution("p1", "cot", "m", "hf", "1", True, 10, 2, first_answer_tokens=5)
    (tmp_path / "runs.jsonl").write_text('{"method": "cot", "model": "m", "model_hash": "h", "batched": true, '
                                         '"seconds": 1.0, "tokens": 12, "problems": 1, "peak_memory_mb": 1.0}\n')
    row = summarize_records([{**s.to_dict(), "model_hash": "h"}], tmp_path / "runs.jsonl", ["cot"])[0]
    summary = set()
    section = (DOCS / "reference/records.md").read_text().split("## `summary.json`")[1]
    for cell in re.findall(r"^\| (`[^|]+) \|", section, re.M):
        summary |= set(re.findall(r"`(\w+)`", cell))
    assert summary == set(row) | {"skipped_long_prompts", "breakdown", "safety", "kv"}
