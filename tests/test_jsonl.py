"""The one JSONL store (records, route side caches, rollouts): append and read back, a torn last line dropped
and trimmed, any other bad line an error naming it, a whole-file replace."""

import pytest

from brevity.errors import BrevityError
from brevity.jsonl import JsonlStore


def test_append_read_torn_line_and_replace(tmp_path):
    path = tmp_path / "sub" / "rows.jsonl"
    JsonlStore(path).append([{"a": 1}, {"a": 2}])
    path.write_bytes(path.read_bytes() + b'{"a": 3')  # a write cut short
    store = JsonlStore(path)
    assert store.rows == [{"a": 1}, {"a": 2}] and path.read_bytes() == b'{"a": 1}\n{"a": 2}\n'
    store.append([{"a": 3}])
    assert JsonlStore(path).rows == [{"a": 1}, {"a": 2}, {"a": 3}]
    store.replace([{"b": 1}])
    assert JsonlStore(path).rows == [{"b": 1}] and not path.with_name("rows.jsonl.tmp").exists()


def test_a_bad_line_inside_is_an_error_naming_it(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text('{"a": 1}\nnot json\n{"a": 2}\n')
    with pytest.raises(BrevityError, match=r"rows.jsonl:2 is not valid JSON; delete it"):
        JsonlStore(path, hint="delete it")
    assert JsonlStore(tmp_path / "none.jsonl").rows == []
