"""A model folder's manifest.json: how the model was made, read and written in one place.

Every writer (the zoo's build, the latent and explicit recipes, the family members, merges) records what made the
folder; readers take what they need. The fields in use:

    name, format, about, command, seed, recipe, parent   what it is and the command that made it
    data          the training data (task, split, examples, styles, hash: recipes.sft.data_hash)
    train         the trainer's statistics (steps, loss, seconds)
    latent        a latent model: method, thoughts, per_step, input (only `coconut` decodes it)
    validation    greedy accuracy and thinking tokens on validation problems (`brevity zoo build`)
    merge, mergekit_config, tokenizer_from        a merge's plan
    materialized  a family member's full folder: where from, and the key of what it was made from
    params, params_compact, config, python, torch     size and environment
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

NAME = "manifest.json"


def read_manifest(folder: str | Path | None) -> dict[str, Any]:
    """The folder's manifest, {} when it has none or it cannot be read."""
    if folder is None:
        return {}
    try:
        return json.loads((Path(folder) / NAME).read_text())
    except (OSError, ValueError):
        return {}


def has_manifest(folder: str | Path) -> bool:
    return (Path(folder) / NAME).is_file()


def write_manifest(folder: str | Path, manifest: dict[str, Any]) -> None:
    (Path(folder) / NAME).write_text(json.dumps(manifest, indent=2) + "\n")


def update_manifest(folder: str | Path, **fields: Any) -> dict[str, Any]:
    """Set top-level fields of an existing manifest (validation results, say); returns the whole manifest."""
    manifest = {**read_manifest(folder), **fields}
    write_manifest(folder, manifest)
    return manifest
