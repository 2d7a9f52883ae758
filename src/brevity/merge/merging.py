"""Merge a fast model and a reasoning model with mergekit (task arithmetic, TIES, DARE, SLERP).

Brevity only writes mergekit's configuration and checks the inputs first; mergekit does the tensor
work (lazily, out of core for big models). One weight `w` means the same thing for every method: the
share of the reasoning model. Task-vector methods merge `base + (1-w)*(fast-base) + w*(reasoning-base)`
with `normalize` off (mergekit's TIES normalizes by default, which would rescale the sum), sparsified
ones keep a `density` fraction of each task vector (mergekit's convention: kept, not dropped), and
SLERP interpolates from the fast model (t=0) to the reasoning model (t=1). So with task arithmetic and SLERP
w=0 and w=1 give the parents back and a sweep over w draws the curve between them; TIES and DARE also trim the
task vectors (unless `density` is 1), so neither end is exactly a parent.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

from brevity.errors import BrevityError
from brevity.formats import load_format
from brevity.manifest import write_manifest

# name -> (mergekit method, uses density, needs a base model)
MERGE_METHODS = {
    "task_arithmetic": ("task_arithmetic", False, True),
    "ties": ("ties", True, True),
    "dare_ties": ("dare_ties", True, True),
    "dare_linear": ("dare_linear", True, True),
    "slerp": ("slerp", False, False),
}
TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model")


@dataclass(frozen=True)
class MergePlan:
    method: str
    weight: float  # share of the reasoning model, 0..1
    fast: str  # model folders
    reasoning: str
    base: str | None = None
    density: float = 1.0  # kept fraction of each task vector (TIES, DARE)
    seed: int = 0  # DARE's random drops

    def __post_init__(self) -> None:
        if self.method not in MERGE_METHODS:
            raise BrevityError(f"unknown merge method {self.method!r}; choose one of {', '.join(MERGE_METHODS)}")
        if not 0.0 <= self.weight <= 1.0:
            raise BrevityError(f"merge weight must be in [0, 1] (the reasoning model's share), got {self.weight}")
        if not 0.0 < self.density <= 1.0:
            raise BrevityError(f"density is the kept fraction, in (0, 1]; got {self.density}")
        _, dense, vectors = MERGE_METHODS[self.method]
        if vectors and not self.base:
            raise BrevityError(f"{self.method} merges task vectors and needs --base (the shared parent)")
        # A setting the method does not read is refused, not dropped.
        if not vectors and self.base:
            raise BrevityError(f"{self.method} interpolates the two models and reads no --base; leave it out")
        if not dense and self.density != 1.0:
            raise BrevityError(f"{self.method} keeps every weight and reads no --density (ties, dare_ties and "
                               "dare_linear do)")
        if not self.method.startswith("dare") and self.seed != 0:
            raise BrevityError(f"--seed drives DARE's random drops; {self.method} draws none")

    @property
    def label(self) -> str:
        s = f"{self.method}-w{self.weight:g}"
        return s + (f"-d{self.density:g}" if MERGE_METHODS[self.method][1] else "")

    def mergekit_config(self) -> dict:
        """The mergekit YAML, as a dict; the tokenizer and chat template come from the reasoning parent."""
        kit, dense, _ = MERGE_METHODS[self.method]
        common = {"dtype": "float32", "tokenizer": {"source": self.reasoning}}
        if kit == "slerp":
            return {**common, "merge_method": "slerp", "base_model": self.fast,
                    "models": [{"model": self.fast}, {"model": self.reasoning}], "parameters": {"t": self.weight}}

        def entry(path: str, w: float) -> dict:
            params = {"weight": w}
            if dense:
                params["density"] = self.density
            return {"model": path, "parameters": params}

        return {**common, "merge_method": kit, "base_model": self.base, "parameters": {"normalize": False},
                "models": [entry(self.fast, 1.0 - self.weight), entry(self.reasoning, self.weight)]}


def _tensor_shapes(folder: Path) -> dict[str, tuple]:
    from safetensors import safe_open

    shapes = {}
    files = sorted(folder.glob("*.safetensors"))
    if not files:
        raise BrevityError(f"{folder} has no .safetensors weights; Brevity merges safetensors only")
    for f in files:
        try:
            with safe_open(f, "pt") as h:
                for k in h.keys():
                    shapes[k] = tuple(h.get_slice(k).get_shape())
        except Exception as e:  # a truncated or corrupt file
            raise BrevityError(f"{f} is not a readable safetensors file ({type(e).__name__}: {e})") from None
    return shapes


def _check_finite(folder: Path) -> None:
    """A NaN or inf weight would spread through every merged tensor; say which one, before merging."""
    import torch
    from safetensors import safe_open

    for f in sorted(folder.glob("*.safetensors")):
        with safe_open(f, "pt") as h:
            for k in h.keys():
                t = h.get_tensor(k)
                if t.is_floating_point() and not bool(torch.isfinite(t).all()):
                    raise BrevityError(f"{folder.name}: weight {k} has NaN or inf values; fix that model first")


def check_mergeable(folders: dict[str, Path]) -> None:
    """One-line errors before any work: same architecture and tensor shapes, a tokenizer on the
    reasoning side (the merged model's), readable and finite weights."""
    shapes, arch = {}, {}
    for role, folder in folders.items():
        cfg_path = folder / "config.json"
        if not cfg_path.is_file():
            raise BrevityError(f"{role} model {folder} is not a Hugging Face model folder (no config.json)")
        cfg = json.loads(cfg_path.read_text())
        arch[role] = (cfg.get("model_type"), tuple(cfg.get("architectures") or ()))
        shapes[role] = _tensor_shapes(folder)
    roles = list(folders)
    first = roles[0]
    for role in roles[1:]:
        if arch[role] != arch[first]:
            raise BrevityError(f"architecture mismatch: {first} is {arch[first][0]} {list(arch[first][1])}, "
                               f"{role} is {arch[role][0]} {list(arch[role][1])}; merge models of one architecture")
        if shapes[role] != shapes[first]:
            diff = sorted(set(shapes[role].items()) ^ set(shapes[first].items()))[:1]
            raise BrevityError(f"architecture mismatch between {first} and {role}: tensor {diff[0][0]} "
                               f"differs (names or shapes); merge models of one architecture and size")
    if not any((folders["reasoning"] / f).is_file() for f in TOKENIZER_FILES):
        raise BrevityError(f"reasoning model {folders['reasoning']} has no tokenizer (tokenizer.json); the merged "
                           "model takes its tokenizer and chat template from it")
    for folder in folders.values():
        _check_finite(folder)


def merge_models(plan: MergePlan, out: Path, command: str = "") -> Path:
    """Check, merge with mergekit, and write a manifest next to the weights."""
    from mergekit.config import MergeConfiguration
    from mergekit.merge import run_merge
    from mergekit.options import MergeOptions

    folders = {"fast": Path(plan.fast), "reasoning": Path(plan.reasoning)}
    if plan.base:
        folders["base"] = Path(plan.base)
    check_mergeable(folders)
    if out.exists() and any(out.iterdir()):
        raise BrevityError(f"{out} exists and is not empty; choose a new --out")
    config = MergeConfiguration.model_validate(plan.mergekit_config())
    run_merge(config, str(out), MergeOptions(quiet=True, random_seed=plan.seed, write_model_card=False))
    template = Path(plan.reasoning) / "chat_template.jinja"
    if template.is_file() and not (out / "chat_template.jinja").is_file():
        shutil.copy(template, out / "chat_template.jinja")
    manifest = {"name": out.name, "format": load_format(out).name, "merge": asdict(plan), "tokenizer_from": "reasoning",
                "command": command,
                "mergekit_config": plan.mergekit_config()}
    write_manifest(out, manifest)
    return out

