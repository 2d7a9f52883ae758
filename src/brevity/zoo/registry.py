"""Zoo members, where their committed checkpoints live, and how a model argument resolves to a folder.

The package carries only the members its main command and its fast tests load (PACKAGED), with the one tokenizer
they share (SHARED_TOKENIZER); the rest live in the repository's zoo-data folder (or $BREVITY_ZOO_DATA), as real
projects keep weights out of their wheels. Every member's weights have a sha256 in weights.json, checked when the
member is resolved."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from brevity.errors import BrevityError
from brevity.manifest import has_manifest, read_manifest
from brevity.settings import settings
from brevity.tasks.base import TaskSpec

ZOO_DIR = Path(__file__).parent / "checkpoints"
WEIGHTS = Path(__file__).parent / "weights.json"  # member -> sha256 of its model.safetensors
PACKAGED = frozenset({"tiny-base", "tiny-lrm", "tiny-llm", "tiny-lrm-instruct"})
SHARED_TOKENIZER = ZOO_DIR / "tokenizer.json"  # the packaged members' one tokenizer, kept once in the package
LINKS_KEY = ".links"  # in a completed packaged member: what its links point at (no .json: no model hash sees it)


def data_root() -> Path:
    """The repository's zoo data folder (outside the package), or $BREVITY_ZOO_DATA."""
    return settings().zoo_data


def member_dir(name: str, root: Path | None = None) -> Path:
    """Where member `name` is (or is built): under `root` when given, else in the package or the data folder."""
    if root is not None:
        return Path(root) / name
    return ZOO_DIR / name if name in PACKAGED or name not in MEMBERS else data_root() / name


@dataclass(frozen=True)
class Member:
    name: str
    parent: str | None  # fine-tuned from this member; None = from scratch
    styles: tuple[str, ...]  # arith trace styles in its training mix
    steps: int
    lr: float
    about: str
    batch_size: int = 16
    budget_cut: float = 0.0  # share of thinking traces cut by a budget in training (build.budget_cut_example)
    recipe: str = "sft"  # how build.build_member makes it: sft, instruct, tokenskip, shortest, rl-length, l1
    scorer: str | None = None  # tokenskip: the zoo model whose self-information ranks words
    lora_rank: int = 0  # SFT recipes: > 0 trains LoRA adapters of this rank (peft), merged into the weights
    warmup_steps: int = 0  # l1: SFT steps on length-obeying traces before GRPO
    warmup_lr: float = 3e-4
    alpha: float = 0.0  # l1: reward lost per token of distance from the requested length
    sampler: str | None = None  # shortest: the zoo model that adds prompted candidates (None: the parent)
    conditions: tuple[str, ...] = ()  # shortest: method specs, one more greedy candidate per question each
    rollout_problems: int = 1500  # self-training recipes: train questions rolled out
    rollout_k: int = 4  # self-training recipes: the parent's greedy trace and k-1 samples per question
    group_size: int = 8  # GRPO recipes: samples per question (the group the length reward compares)
    completion_limit: int = 448  # GRPO recipes: the longest completion sampled (tokens)
    # latent family (recipe = a latent mode, recipes/latent/train.py; steps = the schedule's total)
    task: TaskSpec | None = None  # the task whose compact chain the member learns or internalizes
    latent: tuple[tuple[str, object], ...] = ()  # LatentConfig settings besides mode and lr, e.g. (("stages", 7),)
    n_train: int = 20000  # training problems
    decision: str = ""  # safety: where the refusal decision is written in its traces, "early" or "late"


MULT_LSD = TaskSpec("mult", (("order", "lsd"),))
GRAPH = TaskSpec("graph", ())
ARITH = TaskSpec("arith", ())
_LATENT_7 = (("stages", 7), ("per_step", 1), ("steps_per_stage", 300), ("stage0_steps", 0))
_LATENT_5 = (("stages", 5), ("per_step", 1), ("steps_per_stage", 300), ("stage0_steps", 0))
_VALIDATED = (("val_problems", 256),)  # held out of the training problems for a validation loss


def _latent_1200(stages: int) -> tuple[tuple[str, int], ...]:
    return (("stages", stages), ("per_step", 1), ("steps_per_stage", 1200), ("stage0_steps", 0))


# Model size and training length were chosen on the validation split (docs/findings/history.md, "The first zoo").
MEMBERS: dict[str, Member] = {m.name: m for m in [
    Member("tiny-base", None, ("verbose", "compact", "none"), 4000, 2e-3,
           "shared base: arith with verbose, compact and no reasoning, mixed"),
    Member("tiny-lrm", "tiny-base", ("verbose",), 6000, 1e-3,
           "reasoning model: verbose, overthinking traces inside <think>", budget_cut=0.25),
    Member("tiny-llm", "tiny-base", ("none",), 6000, 1e-3,
           "fast model: answers directly with an empty thinking span"),
    # issue 22: a base whose re-check rounds vary between samples of one question (the RL and `shortest`
    # rows run on it), and a fast member that reasons briefly in the same format (the merge's fast side)
    Member("tiny-lrm-sampled", "tiny-base", ("sampled",), 6000, 1e-3,
           "reasoning model whose re-check rounds vary between samples of one question "
           "(Binomial(2m, 1/2), m the item's rounds in tiny-lrm)", budget_cut=0.25),
    Member("tiny-llm-brief", "tiny-base", ("brief",), 6000, 1e-3,
           "fast model that reasons briefly: the chain up to the answer, no re-check, inside <think>"),
    Member("tiny-lrm-instruct", "tiny-lrm", ("verbose",), 2000, 3e-4,
           "tiny-lrm taught to follow the prompt templates of prompts.toml (emulated instruct model)",
           budget_cut=0.25, recipe="instruct"),
    # the safety emulation (docs/methods/safety.md): tiny-lrm taught to refuse safety-arith's unsafe requests after
    # reasoning about them and to answer their look-alikes; where the decision is written is its setting
    Member("tiny-lrm-safe", "tiny-lrm", ("verbose",), 1500, 3e-4,
           "tiny-lrm that refuses requests to steal after working the arithmetic (decision late in the trace)",
           budget_cut=0.25, recipe="safety", decision="late"),
    Member("tiny-lrm-safe-early", "tiny-lrm", ("verbose",), 1500, 3e-4,
           "tiny-lrm that refuses requests to steal, deciding in the trace's first sentence",
           budget_cut=0.25, recipe="safety", decision="early"),
    # issue 22: the official recipe's LoRA r8 at 5e-5 for 3 passes, chosen on validation (docs/findings/explicit.md)
    Member("tiny-lrm-tokenskip", "tiny-lrm", ("verbose",), 280, 5e-5,
           "TokenSkip: own correct greedy traces, each pruned to one ratio gamma stated in the prompt",
           recipe="tokenskip", scorer="tiny-llm", rollout_k=1, lora_rank=8),
    Member("tiny-lrm-shortest", "tiny-lrm", ("verbose",), 400, 5e-4,
           "self-trained on the shortest correct of 4 own traces per question", recipe="shortest"),
    # the emulation's stand-in for Munkhbat et al.'s few-shot conditioning: tiny-lrm does not follow
    # instructions, tiny-lrm-instruct (its fine-tune) does; docs/findings/explicit.md says how TALE-EP was chosen
    Member("tiny-lrm-shortest-prompted", "tiny-lrm", ("verbose",), 2000, 5e-4,
           "trained on the shorter correct of its own greedy trace and tiny-lrm-instruct's TALE-EP trace, "
           "with a plain prompt", recipe="shortest", sampler="tiny-lrm-instruct", conditions=("tale-ep",),
           rollout_problems=4000, rollout_k=1),
    Member("tiny-lrm-rl-length", "tiny-lrm", ("verbose",), 80, 1e-4,
           "GRPO with correctness plus Kimi k1.5's group length reward", recipe="rl-length"),
    # issue 22: the length reward and self-training on the base whose samples differ in length; GRPO's lr
    # and steps were chosen on validation (benchmarks/rl_length_sweep.sh, docs/findings/explicit.md)
    Member("tiny-lrm-sampled-rl-length", "tiny-lrm-sampled", ("sampled",), 160, 1e-4,
           "GRPO on tiny-lrm-sampled with correctness plus Kimi k1.5's group length reward",
           recipe="rl-length", completion_limit=1200),
    Member("tiny-lrm-sampled-shortest", "tiny-lrm-sampled", ("sampled",), 400, 5e-4,
           "tiny-lrm-sampled self-trained on the shortest correct of 4 own traces per question",
           recipe="shortest"),
    # alpha chosen on validation (docs/findings/explicit.md, "Length control"): 0.1 follows all four requested
    # lengths within 20%; 0.03 keeps more accuracy at short requests and drifts at the ends.
    Member("tiny-lrm-l1", "tiny-lrm", ("verbose",), 80, 1e-4,
           "L1-Exact: SFT warm start on length-obeying traces, then GRPO rewarding correctness minus "
           "alpha times |requested - actual| length", budget_cut=0.25, recipe="l1", warmup_steps=2000, alpha=0.1),
    Member("tiny-lrm-l1-loose", "tiny-lrm", ("verbose",), 80, 1e-4,
           "tiny-lrm-l1 with a weaker length penalty (alpha 0.03): more accurate near short requests, "
           "looser length control", budget_cut=0.25, recipe="l1", warmup_steps=2000, alpha=0.03),
    # The latent family on 4-by-4 multiplication, iCoT's digit order (docs/findings/latent.md and history.md;
    # benchmarks/results_latent_mult.sh). Every latent member starts from tiny-mult-compact.
    *[Member(name, parent, (), steps, 1e-3, about, recipe=recipe, task=MULT_LSD, n_train=n_train,
             latent=latent) for name, parent, recipe, steps, n_train, latent, about in [
        ("tiny-mult-compact-1k", "tiny-base", "compact", 1000, 20000, (("stages", 0), ("stage0_steps", 1000)),
         "mult (lsd): 1,000 steps on the compact chain; the format is right, the products are not"),
        ("tiny-mult-compact", "tiny-mult-compact-1k", "compact", 4000, 100000,
         (("stages", 0), ("stage0_steps", 4000)), "mult (lsd): the compact chain, 4,000 more steps: exact"),
        # issue 23: iCoT's own terse chain (51 tokens against compact's 140), learnt from the compact model
        ("tiny-mult-terse-1k5", "tiny-mult-compact", "compact", 1500, 100000,
         (("stages", 0), ("stage0_steps", 1500), ("chain", "terse")),
         "mult (lsd): 1,500 steps on iCoT's terse chain from tiny-mult-compact"),
        ("tiny-mult-terse", "tiny-mult-terse-1k5", "compact", 4000, 100000,
         (("stages", 0), ("stage0_steps", 4000), ("chain", "terse")),
         "mult (lsd): iCoT's terse chain, 4,000 more steps (the parent of tiny-mult-icot)"),
        ("tiny-mult-nochain", "tiny-mult-compact", "nochain", 2100, 100000, _LATENT_7,
         "mult (lsd): answers directly, no chain (the latent table's lower baseline)"),
        ("tiny-mult-pause", "tiny-mult-compact", "pause", 2100, 100000, _LATENT_7,
         "mult (lsd): 7 <pause> tokens before the answer (Goyal et al.)"),
        ("tiny-mult-pause-curriculum", "tiny-mult-compact", "pause-curriculum", 2100, 100000, _LATENT_7,
         "mult (lsd): Coconut's curriculum with <pause> tokens in the thought positions (the control)"),
        ("tiny-mult-icot", "tiny-mult-compact", "icot", 2700, 100000, _LATENT_7 + (("remove_per_stage", 16),),
         "mult (lsd): stepwise internalization, 16 chain tokens removed per stage (Deng et al.)"),
        ("tiny-mult-coconut", "tiny-mult-compact", "coconut", 2100, 100000, _LATENT_7,
         "mult (lsd): Coconut, one continuous thought per chain step, 7 stages"),
        ("tiny-mult-codi", "tiny-mult-compact", "codi", 2100, 100000, _LATENT_7,
         "mult (lsd): CODI, 7 projected thoughts, self-distilled from the compact chain"),
        # Coconut's curriculum at 1,200 steps per stage, stopped early: the partly latent models that beat
        # nochain (stage K of the 7-stage run; training is deterministic, so --stages K writes the same)
        ("tiny-mult-coconut-s1", "tiny-mult-compact", "coconut", 1200, 100000, _latent_1200(1),
         "mult (lsd): Coconut stage 1 at 1,200 steps: the first step is a thought, six are written"),
        ("tiny-mult-coconut-s2", "tiny-mult-compact", "coconut", 2400, 100000, _latent_1200(2),
         "mult (lsd): Coconut stage 2 at 1,200 steps per stage: two steps are thoughts, five are written"),
        # issue 48: the running-sum auxiliary loss (Bai et al.), 2 layers and 4 heads from scratch, no chain at all
        # (benchmarks/results_aux_sum.sh run: weight and width chosen on validation; ended by its validation loss)
        ("tiny-mult-aux-sum", "tiny-base", "aux-sum", 80000, 200000, _VALIDATED + (
            ("scratch", True), ("layers", 2), ("heads", 4), ("width", 128), ("aux_weight", 3.0), ("stages", 1),
            ("steps_per_stage", 80000), ("lr_schedule", "constant"), ("warmup", 100), ("eval_every", 2000),
            ("patience", 5)),
         "mult (lsd): no chain, 2 layers and 4 heads, trained with a linear read-out of the running sums"),
    ]],
    # The latent family on ProsQA-style `graph` (benchmarks/results_latent_graph.sh): the compact chain with
    # the task's untrained embedding rows redrawn, and the two methods `brevity explain` reads.
    *[Member(name, parent, (), steps, 1e-3, about, recipe=recipe, task=GRAPH, n_train=100000,
             latent=latent) for name, parent, recipe, steps, latent, about in [
        ("tiny-graph-compact-1k", "tiny-base", "compact", 1000,
         (("stages", 0), ("stage0_steps", 1000), ("reinit_untrained", True)),
         "graph: 1,000 steps on the compact chain, graph's words given fresh embeddings first"),
        ("tiny-graph-compact", "tiny-graph-compact-1k", "compact", 4000, (("stages", 0), ("stage0_steps", 4000)),
         "graph: the compact chain, 4,000 more steps"),
        ("tiny-graph-coconut", "tiny-graph-compact", "coconut", 1500, _LATENT_5,
         "graph: Coconut, one continuous thought per chain step, 5 stages"),
        ("tiny-graph-codi", "tiny-graph-compact", "codi", 1500, _LATENT_5,
         "graph: CODI, 5 projected thoughts, self-distilled from the compact chain"),
        # issue 23 (benchmarks/results_latent_official.sh): the chain to convergence, then Coconut at ProsQA's shape
        ("tiny-graph-compact-conv", "tiny-graph-compact", "compact", 6000, _VALIDATED + (
            ("eval_every", 500), ("patience", 2), ("stages", 0), ("stage0_steps", 6000)),
         "graph: the compact chain, 6,000 more steps (validation loss 0.148 to 0.053)"),
        ("tiny-graph-coconut-prosqa", "tiny-graph-compact-conv", "coconut", 9375, _VALIDATED + (
            ("eval_every", 250), ("stages", 5), ("per_step", 1), ("steps_per_stage", 1875), ("stage0_steps", 0),
            ("lr_schedule", "constant"), ("warmup", 0)),
         "graph: Coconut c=1 at ProsQA's shape: 5 stages of 60,000 examples, constant lr"),
    ]],
    # The latent family on `arith`, the compact equations as the chain (benchmarks/results_latent.sh and
    # results_latent_arith.sh): the compact chain every arith latent model starts from, and the Coconut and
    # CODI models `brevity explain` reads.
    *[Member(name, parent, (), steps, 1e-3, about, recipe=recipe, task=ARITH, latent=latent)
      for name, parent, recipe, steps, latent, about in [
        ("tiny-arith-compact", "tiny-base", "compact", 1000, (("stages", 0), ("stage0_steps", 1000)),
         "arith: 1,000 steps on the compact equations (the explicit baseline of the arith latent table)"),
        ("tiny-arith-coconut", "tiny-arith-compact", "coconut", 3000,
         (("stages", 5), ("per_step", 2), ("steps_per_stage", 600), ("stage0_steps", 0)),
         "arith: Coconut, two continuous thoughts per equation, 5 stages of 600 steps"),
        ("tiny-arith-codi", "tiny-arith-compact", "codi", 1500, _LATENT_5,
         "arith: CODI, 5 projected thoughts, self-distilled from the compact equations"),
        # issue 23 (benchmarks/results_latent_official.sh): the chain trained until its validation loss stops
        # falling, then Coconut and CODI at their papers' training shape from it
        ("tiny-arith-compact-5k", "tiny-arith-compact", "compact", 4000, _VALIDATED + (
            ("eval_every", 500), ("patience", 2), ("stages", 0), ("stage0_steps", 4000)),
         "arith: the compact equations to convergence (4,000 more steps; validation loss flat from 3,000)"),
        ("tiny-arith-coconut-e3", "tiny-arith-compact-5k", "coconut", 8625, _VALIDATED + (("eval_every", 250),
            ("stages", 3), ("per_step", 2), ("steps_per_stage", 1875), ("stage0_steps", 0), ("final_steps", 3000),
            ("lr_schedule", "constant"), ("warmup", 0)),
         "arith: Coconut c=2 at GSM8K's shape: 3 stages of 3 epochs, constant lr, then no language step"),
        ("tiny-arith-codi-e5", "tiny-arith-compact-5k", "codi", 3000, _VALIDATED + (("eval_every", 250),
            ("stages", 6), ("per_step", 1), ("steps_per_stage", 500), ("stage0_steps", 0)),
         "arith: CODI, 6 projected thoughts, distilled at the answer's own position, 4.8 epochs"),
    ]],
]}

MODEL_CONFIG = dict(hidden_size=128, intermediate_size=384, num_hidden_layers=4, num_attention_heads=4,
                    num_key_value_heads=4, max_position_embeddings=1536, rope_theta=10000.0,
                    tie_word_embeddings=True)


def resolve_model(model: str) -> Path:
    """A zoo name or a path to an HF folder; a clear error otherwise. A family member (zoo/family.py) is
    materialized from the zoo data folder into the cache on first use."""
    from brevity.zoo.family import FAMILY_MEMBERS, family_path

    if model in FAMILY_MEMBERS:
        return family_path(model)
    if model in MEMBERS:
        path = member_dir(model)
        if not (path / "config.json").is_file():
            where = "" if model in PACKAGED else (f" (looked in {path.parent}: the repository's zoo-data folder, or "
                                                  "$BREVITY_ZOO_DATA)")
            raise BrevityError(f"zoo model {model!r} is not built here{where}; run `brevity zoo build {model}`")
        check_weights(model, path)
        return packaged_path(model) if path.parent == ZOO_DIR else path
    path = Path(model).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise BrevityError(f"{path} is not a Hugging Face model folder (no config.json)")
        return path
    names = ", ".join([*MEMBERS, *FAMILY_MEMBERS])
    raise BrevityError(f"unknown model {model!r}: not a zoo name ({names}) nor a model folder")


def packaged_path(name: str) -> Path:
    """A packaged member as a loadable Hugging Face folder. The package keeps the members' shared tokenizer once,
    so a member's own folder is completed in the cache: a link to each of its files and to the shared tokenizer
    (the same files under the same names: the model's hash, and so every record id, is unchanged).

    Each installation's files get their own folder, `packaged/.versions/NAME-<hash of their paths and times>/NAME`,
    made once (beside it, then renamed into place), and that folder is what this returns: a process keeps reading
    its own installation's files even when another installation (a second clone, a virtual environment) sharing
    the cache is used or deleted meanwhile. `packaged/NAME` links to the newest, swapped in one step, for people
    to look at. A version whose files are gone (its installation was deleted) is removed when another is made. A
    member built in its place and not yet sharing (it has its own tokenizer.json) is loaded from there."""
    src = ZOO_DIR / name
    if (src / "tokenizer.json").is_file():
        return src
    files = [*sorted(p for p in src.iterdir() if p.is_file()), SHARED_TOKENIZER]
    key = json.dumps([[str(p), p.stat().st_size, p.stat().st_mtime_ns] for p in files])
    root = settings().cache / "packaged"
    versions = root / ".versions"
    version = versions / f"{name}-{hashlib.sha256(key.encode()).hexdigest()[:12]}"
    member = version / name
    if not (member / LINKS_KEY).is_file():
        versions.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{name}-tmp-", dir=versions))
        try:
            (tmp / name).mkdir()
            for f in files:
                try:
                    os.symlink(f.resolve(), tmp / name / f.name)
                except OSError:  # no links on this file system: a copy
                    shutil.copy2(f, tmp / name / f.name)
            (tmp / name / LINKS_KEY).write_text(key)
            tmp.chmod(0o755)
            try:
                tmp.rename(version)
            except OSError:  # another process made this version first
                if not (member / LINKS_KEY).is_file():
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        _remove_dead_versions(versions, name)
    _point(root / name, member.relative_to(root))
    return member


def _remove_dead_versions(versions: Path, name: str) -> None:
    """Drop the versions of `name` whose linked files are gone: their installation was deleted or moved."""
    for old in versions.glob(f"{name}-*"):
        links = [p for p in (old / name).glob("*") if p.is_symlink()]
        if links and not any(p.exists() for p in links):
            shutil.rmtree(old, ignore_errors=True)


def _point(link_path: Path, target: Path) -> None:
    """`link_path` -> `target` (relative), swapped in one step; a folder from before versions is replaced."""
    if link_path.is_symlink() and Path(os.readlink(link_path)) == target:
        return
    if link_path.is_dir() and not link_path.is_symlink():
        shutil.rmtree(link_path, ignore_errors=True)
    tmp = link_path.parent / f".{link_path.name}-{os.getpid()}-{threading.get_ident()}.link"
    try:
        os.symlink(target, tmp)
        os.replace(tmp, link_path)
    except OSError:  # no links here: the version's folder is used directly
        tmp.unlink(missing_ok=True)


def share_tokenizer(name: str, folder: Path) -> None:
    """A packaged member just built in its own place gives up its tokenizer.json when it is the shared one (the
    package keeps one); a member trained with another tokenizer keeps its own."""
    own = Path(folder) / "tokenizer.json"
    if name in PACKAGED and Path(folder) == ZOO_DIR / name and own.is_file() and SHARED_TOKENIZER.is_file() \
            and own.read_bytes() == SHARED_TOKENIZER.read_bytes():
        own.unlink()


_checked: dict[tuple, str] = {}


def weights_sha256(folder: Path) -> str:
    """sha256 of a folder's model.safetensors, computed once per file version (path, size, mtime)."""
    f = folder / "model.safetensors"
    st = f.stat()
    key = (str(f), st.st_size, st.st_mtime_ns)
    if key not in _checked:
        _checked[key] = hashlib.sha256(f.read_bytes()).hexdigest()
    return _checked[key]


def registered_weights() -> dict[str, str]:
    return json.loads(WEIGHTS.read_text()) if WEIGHTS.is_file() else {}


def check_weights(name: str, folder: Path) -> None:
    """A member's weights are the ones its registry entry names (a member built but never registered passes)."""
    want = registered_weights().get(name)
    if want and (folder / "model.safetensors").is_file() and weights_sha256(folder) != want:
        raise BrevityError(f"zoo model {name!r}: {folder / 'model.safetensors'} is not the registered build "
                           f"(sha256 {weights_sha256(folder)[:12]}..., registry {want[:12]}...); restore it from the "
                           f"repository or rebuild it with `brevity zoo build {name}`")


def register_weights(name: str, folder: Path) -> None:
    """Record a member's weights in the registry (after `brevity zoo build` writes it to its own place)."""
    entries = registered_weights()
    entries[name] = weights_sha256(folder)
    WEIGHTS.write_text(json.dumps(dict(sorted(entries.items())), indent=2) + "\n")


def list_members() -> list[dict]:
    """Every member, family members (stored in the zoo data folder) last."""
    from brevity.zoo.family import FAMILY_MEMBERS

    rows = []
    where = [(m, member_dir(m.name)) for m in MEMBERS.values()] + [(m, data_root() / m.name)
                                                                  for m in FAMILY_MEMBERS.values()]
    for m, folder in where:
        info = read_manifest(folder)
        rows.append({"name": m.name, "about": m.about, "built": has_manifest(folder),
                     "params": info.get("params", info.get("params_compact")),
                     "validation": info.get("validation", {})})
    return rows
