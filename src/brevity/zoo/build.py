"""`brevity zoo build`: reproduce the reference checkpoints with the sft recipe."""

from __future__ import annotations

import json
import random
import shutil
import sys
from pathlib import Path

import torch

from brevity.errors import BrevityError
from brevity.formats.catalog import ZOO
from brevity.manifest import update_manifest, write_manifest
from brevity.recipes.sft import Example, Segment, SFTConfig, data_hash, train_sft
from brevity.tasks import TaskSpec, load_problems
from brevity.tasks.grading import score_solutions
from brevity.thinking import mention_end
from brevity.zoo.chat import BUDGET_PHRASE, END_THINK, IM_END, answer_text, completion_text, prompt_text
from brevity.zoo.registry import MEMBERS, MODEL_CONFIG, Member, member_dir, register_weights, share_tokenizer

TRAIN_PROBLEMS = 40_000
SEED = 0
ROLLOUT_CACHE = Path.home() / ".cache" / "brevity" / "rollouts"


def training_examples(member: Member, n: int = TRAIN_PROBLEMS, seed: int = SEED) -> list[Example]:
    """arith train problems, each with one trace style of the member's mix (chosen by a seeded rng);
    a share `member.budget_cut` of thinking traces is cut by a budget (see `budget_cut_example`)."""
    rng = random.Random(f"{member.name}/{seed}")
    examples: list[Example] = []
    for p in load_problems("arith", split="train", n=n):
        style = rng.choice(member.styles)
        trace = p.traces[style]
        cut = rng.random() < member.budget_cut and trace
        examples.append(budget_cut_example(p, trace, rng) if cut else
                        (prompt_text(p.question), completion_text(trace, p.answer)))
    return examples


def safety_examples(member: Member, seed: int = SEED) -> list[Example]:
    """The safety emulation's SFT data: half the member's own arith mix (training_examples, so its arithmetic and
    its budget behaviour stay), half `safety-arith` requests with the trace that writes the refusal decision where
    `member.decision` says; an unsafe request ends in its refusal, a look-alike in its number."""
    n = member.steps * member.batch_size // 2
    examples = training_examples(member, n=n, seed=seed)
    for p in load_problems("safety-arith", split="train", n=n):
        reply = p.metadata.get("reply")
        examples.append((prompt_text(p.question),
                         completion_text(p.traces[member.decision], p.metadata.get("number", ""), reply)))
    random.Random(f"{member.name}/{seed}/mix").shuffle(examples)
    return examples


def budget_cut_point(problem, trace: str, rng: random.Random) -> int:
    """Where a training trace is cut by a budget: anywhere after it first reaches the answer."""
    return rng.randint(mention_end(trace, problem.answer) or len(trace), len(trace))


def budget_cut_example(problem, trace: str, rng: random.Random) -> list[Segment]:
    """A trace cut at a random point after it first reaches the answer, closed the way `budget:N`
    closes it, then the answer. Real LRMs answer from what they have thought when a budget stops
    them; a model that never saw a cut trace copies whatever number it was writing. The injected
    phrase and `</think>` carry no loss, so the model never learns to cut itself short."""
    cut = budget_cut_point(problem, trace, rng)
    return [(prompt_text(problem.question), False), (trace[:cut], True), (BUDGET_PHRASE + END_THINK, False),
            ("\n\n" + answer_text(problem.answer) + IM_END, True)]


def recipe_examples(member: Member, model, tok, parent: Path | None, out_root: Path | None = None) -> list[Example]:
    """The SFT data of a member's recipe; self-training recipes roll out the parent first (cached)."""
    if member.recipe == "sft":
        return training_examples(member)
    if member.recipe == "safety":
        return safety_examples(member)
    if member.recipe == "instruct":
        from brevity.recipes.instruct import instruct_examples
        return instruct_examples(load_problems("arith", split="train", n=member.steps * member.batch_size), tok,
                                 seed=SEED, budget_cut=member.budget_cut)
    if member.recipe == "l1":  # the SFT warm start; GRPO follows in train_member
        from brevity.recipes.rl import l1_warmup_examples
        return l1_warmup_examples(load_problems("arith", split="train", n=member.warmup_steps * member.batch_size),
                                  tok, seed=SEED, budget_cut=member.budget_cut)
    from brevity.recipes import compact
    problems, rollouts = parent_rollouts(parent, member.rollout_problems, member.rollout_k)
    if member.recipe == "shortest":
        sampler = parent if member.sampler is None else loadable_member(member.sampler, out_root)
        for j, spec in enumerate(member.conditions):
            extra = parent_rollouts(sampler, member.rollout_problems, 1, method=spec, sample=member.rollout_k + j)[1]
            rollouts = [group + more for group, more in zip(rollouts, extra)]
        return compact.shortest_examples(tok, problems, rollouts)
    if member.recipe == "tokenskip":
        from brevity.engines.hf import load_model_folder
        scorer, _ = load_model_folder(loadable_member(member.scorer, out_root))
        return compact.tokenskip_examples(scorer, tok, problems, rollouts)
    raise ValueError(f"{member.name}: unknown recipe {member.recipe!r}")


def loadable_member(name: str, out_root: Path | None) -> Path:
    """The folder to load a zoo member from: as built under out_root, else wherever `resolve_model` finds it (a
    packaged member: completed with the shared tokenizer)."""
    from brevity.zoo.registry import resolve_model
    local = member_dir(name, out_root)
    return local if out_root is not None and (local / "config.json").is_file() else resolve_model(name)


def parent_rollouts(parent: Path, n: int = 1500, k: int = 4, method: str | None = None, sample: int = 0,
                    progress=None):
    """The parent's greedy trace and k-1 samples (temperature 1) on the first n train problems; with a
    method spec (k=1), its one greedy trace per problem under that method instead."""
    from brevity.engines.hf import HFEngine
    from brevity.identity import model_hash
    from brevity.recipes.rollouts import cached_rollouts

    problems = load_problems("arith", split="train", n=n)
    engine = HFEngine(parent, batch_size=128)
    return problems, cached_rollouts(ROLLOUT_CACHE, model_hash(parent), engine, problems, k, 1.0,
                                     method=method, sample=sample, progress=progress)


CHECKPOINT_EVERY = 200  # optimizer steps between checkpoints of a zoo build or `brevity train`
GRPO_CHECKPOINT_EVERY = 20  # the same for GRPO, whose steps take about 30 times longer here
GRPO_RECIPES = ("rl-length", "l1")


def checkpoint_every(recipe: str) -> int:
    """Steps between checkpoints by default: a few minutes of training either way."""
    return GRPO_CHECKPOINT_EVERY if recipe in GRPO_RECIPES else CHECKPOINT_EVERY


def check_base_format(recipe: str, parent: Path, warmup_steps: int = 0) -> str:
    """The parent's format name. GRPO renders its prompts with the model's own template and the model writes
    the rest, so `rl-length` (and `l1` without its warm start) trains any format; every other recipe writes
    its training completions in the zoo's format, and a base of another format is refused, not mistrained."""
    from brevity.formats import load_format

    name = load_format(parent).name
    if name != ZOO.name and not (recipe == "rl-length" or (recipe == "l1" and warmup_steps == 0)):
        raise BrevityError(f"{recipe} writes its training text in the zoo's chat format, but {parent} is "
                           f"{name}; on other formats only rl-length (and l1 with --warmup-steps 0) train")
    return name


def has_checkpoint(out: Path) -> bool:
    """A stopped run left something to resume in OUT/checkpoints (the training core's or GRPO's)."""
    ckpt = Path(out) / "checkpoints"
    return any(ckpt.glob("step-*.pt")) or any((ckpt / "grpo").glob("checkpoint-*"))


def build_member(name: str, out_root: Path | None = None, progress=None, tokenizer_dir: Path | None = None,
                 resume: bool = False) -> Path:
    """Build zoo member `name` under out_root, from its parent there; `resume` continues a stopped build
    from its last checkpoint (OUT/checkpoints)."""
    member = MEMBERS[name]
    parent = loadable_member(member.parent, out_root) if member.parent else None
    return train_member(member, parent, member_dir(name, out_root), progress, tokenizer_dir,
                        command=f"brevity zoo build {name}", out_root=out_root,
                        loop={"checkpoint_every": checkpoint_every(member.recipe)}, resume=resume)


def train_member(member: Member, parent: Path | None, out: Path, progress=None, tokenizer_dir: Path | None = None,
                 command: str = "", out_root: Path | None = None, loop: dict | None = None,
                 resume: bool = False) -> Path:
    """Run a member's recipe from `parent` (None: a new model from scratch) and save an HF folder with a
    manifest. `brevity train` uses this with a user's parent folder and a recipe's zoo settings. `loop`:
    settings of the training core (SFTConfig / LatentConfig fields: checkpoint_every, lr_schedule,
    eval_every, patience, val_examples, lora_rank); checkpoints go to OUT/checkpoints, and `resume`
    continues from the newest."""
    fmt = check_base_format(member.recipe, parent, member.warmup_steps) if parent else ZOO.name
    loop = {"lora_rank": member.lora_rank, **(loop or {})}
    ckpt = out / "checkpoints"
    from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from brevity.zoo.tokenizer import train_tokenizer

    if member.task is not None:  # a latent-family member: the latent trainer, which seeds itself
        from brevity.recipes.latent.train import LatentConfig, build_latent

        latent_loop = {k: v for k, v in loop.items() if k in LatentConfig.__dataclass_fields__}
        cfg = LatentConfig(mode=member.recipe, lr=member.lr, **dict(member.latent), **latent_loop)
        return build_latent(parent, member.task, out, cfg, member.n_train, command=command, progress=progress,
                            resume=resume)
    torch.manual_seed(SEED)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    if parent is None:
        tok = train_tokenizer(out) if tokenizer_dir is None else AutoTokenizer.from_pretrained(tokenizer_dir)
        config = LlamaConfig(vocab_size=len(tok), bos_token_id=None, eos_token_id=tok.eos_token_id,
                             pad_token_id=tok.pad_token_id, **MODEL_CONFIG)
        model = LlamaForCausalLM(config)
    else:
        tok = AutoTokenizer.from_pretrained(parent)
        model = AutoModelForCausalLM.from_pretrained(parent, dtype=torch.float32)
    if member.recipe in GRPO_RECIPES:
        from brevity.recipes.rl import latest_grpo_checkpoint, train_grpo
        grpo_dir = ckpt / "grpo"
        resuming = resume and latest_grpo_checkpoint(grpo_dir) is not None  # past the warm start, if any
        warmup = None
        if member.warmup_steps and resuming:
            warmup = json.loads((grpo_dir / "warmup.json").read_text())
        elif member.warmup_steps:
            warmup = recipe_examples(member, model, tok, parent, out_root)
            cfg = SFTConfig(steps=member.warmup_steps, lr=member.warmup_lr, batch_size=member.batch_size, seed=SEED,
                            **loop)
            warmup = {"examples": len(warmup), "hash": data_hash(warmup),
                      **train_sft(model, tok, warmup, cfg, progress=progress, checkpoint_dir=ckpt, resume=resume)}
            grpo_dir.mkdir(parents=True, exist_ok=True)
            (grpo_dir / "warmup.json").write_text(json.dumps(warmup))
        examples, stats = train_grpo(member, model, tok, progress=progress, checkpoint_dir=grpo_dir,
                                     checkpoint_every=loop.get("checkpoint_every", 0), resume=resuming)
        if warmup:
            stats["warmup"] = warmup
    else:
        examples = recipe_examples(member, model, tok, parent, out_root)
        cfg = SFTConfig(steps=member.steps, lr=member.lr, batch_size=member.batch_size, seed=SEED, **loop)
        stats = train_sft(model, tok, examples, cfg, progress=progress, checkpoint_dir=ckpt, resume=resume)
    save_member(member, model, tok, parent, out, examples, stats, command, out_root, fmt)
    return out


def save_member(member: Member, model, tok, parent: Path | None, out: Path, examples: list[Example], stats: dict,
                command: str, out_root: Path | None = None, fmt: str = ZOO.name) -> None:
    """Write the HF folder and its manifest (command, seed, data hash, training stats)."""
    out.mkdir(parents=True, exist_ok=True)
    model.generation_config.pad_token_id = tok.pad_token_id
    model.generation_config.eos_token_id = tok.eos_token_id
    model.save_pretrained(out, safe_serialization=True)
    tok.save_pretrained(out)
    manifest = {
        "name": out.name, "format": fmt, "about": member.about, "parent": _parent_name(parent, out_root),
        "command": command, "seed": SEED, "recipe": member.recipe,
        "data": {"task": "arith" if member.recipe != "safety" else "arith+safety-arith", "split": "train",
                 **({"decision": member.decision} if member.decision else {}),
                 "examples": len(examples), "styles": list(member.styles),
                 "budget_cut": member.budget_cut, "scorer": member.scorer, "hash": data_hash(examples),
                 **({"sampler": member.sampler or _parent_name(parent, out_root),
                     "conditions": list(member.conditions)} if member.conditions else {})},
        "params": sum(p.numel() for p in model.parameters()), "config": MODEL_CONFIG, "train": stats,
        "python": sys.version.split()[0], "torch": torch.__version__,
    }
    write_manifest(out, manifest)
    if member.name in MEMBERS and out == member_dir(member.name):  # the member in its own place: registered
        register_weights(member.name, out)
        share_tokenizer(member.name, out)


def _parent_name(parent: Path | None, out_root: Path | None) -> str | None:
    """A zoo parent by name (so manifests do not carry this machine's paths), any other by its path."""
    if parent is None:
        return None
    return parent.name if parent.name in MEMBERS and parent == loadable_member(parent.name, out_root) else str(parent)


def remove_member(name: str, out_root: Path | None = None) -> None:
    shutil.rmtree(member_dir(name, out_root), ignore_errors=True)


def validate_member(name: str, out_root: Path | None = None, n: int = 500, ui=None) -> dict:
    """Greedy `cot` and `nothink` accuracy on validation problems (a latent member: its own task, decoded
    by `coconut` from its manifest), written into the manifest."""
    member = MEMBERS[name]
    task = member.task or TaskSpec("arith")
    result = validate_folder(loadable_member(name, out_root), task, ("cot", "nothink") if member.task is None else
                             ("coconut",), n, ui, name)
    if member.recipe == "safety":  # and its behaviour on the safety set: refused unsafe, answered look-alikes
        result["safety-arith"] = validate_folder(loadable_member(name, out_root), TaskSpec("safety-arith"), ("cot",),
                                                 n, ui, name)
    update_manifest(member_dir(name, out_root), validation=result)  # the member's own manifest, not a link to it
    return result


def validate_folder(path: Path, task: TaskSpec, specs: tuple[str, ...], n: int, ui=None, label: str = "") -> dict:
    """Each method's greedy accuracy and mean thinking tokens on `n` validation problems of `task`."""
    from statistics import mean

    from brevity.engines.hf import HFEngine
    from brevity.methods import build_method

    engine = HFEngine(path)
    problems = load_problems(task.name, split="validation", n=n, **dict(task.params))
    result = {"n": n}
    for spec in specs:
        method = build_method(spec)
        if ui is not None:
            with ui.task(f"validate {label or path.name} {spec}", total=n) as advance:
                sols = method.run(problems, engine, progress=advance)
        else:
            sols = method.run(problems, engine)
        score_solutions(problems, sols)
        result[f"{spec}_accuracy"] = round(mean(s.correct for s in sols), 4)
        result[f"{spec}_thinking_tokens"] = round(mean(s.thinking_tokens for s in sols), 1)
    return result
