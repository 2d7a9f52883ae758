"""One JSONL store for everything Brevity appends and reads back: bench records, route side caches, rollouts.

Rows are appended a batch at a time and fsynced, so a run that stops loses at most the batch in flight; on
open, a torn last line (a write cut short) is dropped and the file trimmed, while any other unreadable line is
an error naming it (it is not ours to guess). `replace` rewrites the whole file through a temporary one."""

from __future__ import annotations

import json
import os
from pathlib import Path

from brevity.errors import BrevityError


class JsonlStore:
    def __init__(self, path: Path, hint: str = "fix or delete that line"):
        self.path = Path(path)
        self.rows: list[dict] = []
        if self.path.exists():
            self.rows = self._read(hint)

    def _read(self, hint: str) -> list[dict]:
        raw = self.path.read_bytes()
        lines = raw.split(b"\n")
        keep = len(raw)
        if lines and lines[-1].strip():  # no trailing newline: the last write was cut short
            try:
                json.loads(lines[-1])
            except json.JSONDecodeError:
                keep -= len(lines[-1])
                lines = lines[:-1]
        rows = []
        for i, line in enumerate(lines):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                raise BrevityError(f"{self.path}:{i + 1} is not valid JSON; {hint}") from None
        if keep != len(raw):
            with open(self.path, "r+b") as f:
                f.truncate(keep)
        return rows

    def append(self, rows: list[dict]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a") as f:
            f.writelines(json.dumps(r) + "\n" for r in rows)
            f.flush()
            os.fsync(f.fileno())
        self.rows.extend(rows)

    def replace(self, rows: list[dict]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        with open(tmp, "w") as f:
            f.writelines(json.dumps(r) + "\n" for r in rows)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
        self.rows = list(rows)
