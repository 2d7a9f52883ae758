"""The identities that records, caches and manifests carry: a model folder's hash and a bench record's id.

A leaf module (it imports nothing from brevity), so that the bench that writes records, the zoo and recipes that
cache rollouts, and the routes that key calibrations all take them from one place below them."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path


def model_hash(path: Path) -> str:
    """The weights and configs of an HF folder (its manifest left out: rewriting notes does not change a model)."""
    h = hashlib.sha256()
    for f in sorted(Path(path).iterdir()):
        if f.suffix in (".json", ".safetensors") and f.name != "manifest.json":
            h.update(f.name.encode())
            h.update(f.read_bytes())
    return h.hexdigest()[:16]


def record_id(task_key: str, problem_id: str, mhash: str, spec: str, decoding: dict) -> str:
    """One bench record: the task, the problem, the model's hash, the method spec and the decoding settings."""
    blob = json.dumps([task_key, problem_id, mhash, spec, decoding], sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]
