"""The `brevity` command. Heavy libraries (torch, transformers) are imported inside commands so
that `brevity --help` stays fast."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

import typer

from brevity.errors import BrevityError

app = typer.Typer(add_completion=False, no_args_is_help=False, help="Brevity: fewer thinking tokens, same answers.",
                  pretty_exceptions_enable=False)
zoo_app = typer.Typer(help="The embedded default models (the tiny zoo).", no_args_is_help=True)
tasks_app = typer.Typer(help="Problem sets: list, describe, show.", no_args_is_help=True)
app.add_typer(zoo_app, name="zoo")
app.add_typer(tasks_app, name="tasks")

DEFAULT_METHODS = "cot,nothink,budget:64,budget:96,budget:128,budget,budget:192,budget:256,deer"


def parse_task(text: str):
    """`arith`, or `arith:steps=3;max_steps=5`: the same key=value grammar as method specs."""
    from brevity.methods.spec import parse_spec
    from brevity.tasks import TaskSpec, task_names

    spec = parse_spec(text)
    if spec.name not in task_names():
        raise BrevityError(f"unknown task {spec.name!r}; choose one of {', '.join(task_names())}")
    if spec.positional is not None:
        raise BrevityError(f"task parameters are key=value, e.g. {spec.name}:steps=3")
    params = []
    for k, v in spec.params:
        params.append((k, int(v) if v.lstrip("-").isdigit() else v))
    return TaskSpec(spec.name, tuple(sorted(params)))


@app.command()
def bench(
    task: str = typer.Option("arith", help="Task, optionally with parameters: arith:steps=3, gsm8k:path=DIR."),
    model: str = typer.Option("tiny-lrm", help="Default model for specs without @model: zoo name or HF folder."),
    methods: str = typer.Option(DEFAULT_METHODS, help="Comma-separated method specs, e.g. cot,budget:128@tiny-lrm."),
    n: int = typer.Option(200, help="Number of test problems (the first n of the split)."),
    out: Path | None = typer.Option(None, help="Output folder (default: brevity-runs/<time>)."),
    resume: bool = typer.Option(False, help="Continue a run in --out, skipping records already there."),
    split: str = typer.Option("test", help="train, validation or test."),
    latency_n: int = typer.Option(20, help="Problems run alone at batch 1 for latency percentiles."),
    batch_size: int = typer.Option(32, help="Batch size of the hf engine."),
    max_tokens: int = typer.Option(1024, help="Generation cap for every method."),
    progress: bool = typer.Option(True, help="Show progress bars."),
) -> None:
    """Run methods side by side on one task and print the table (writes records, summary, report, plot)."""
    from brevity.ui import ProgressUI, console, print_table

    if n <= 0:
        raise BrevityError(f"--n must be positive, got {n}")
    if latency_n < 0 or batch_size <= 0 or max_tokens <= 0:
        raise BrevityError("--latency-n must be >= 0, --batch-size and --max-tokens positive")
    from brevity.methods import build_method, parse_spec_list
    from brevity.zoo import resolve_model

    specs = parse_spec_list(methods)
    if not specs:
        raise BrevityError("--methods is empty; give e.g. cot,nothink,budget:128")
    for s in specs:  # validate everything before any work starts
        build_method(s)
        resolve_model(s.model or model)
    task_spec = parse_task(task)
    out = out or Path("brevity-runs") / datetime.now().strftime("%Y%m%d-%H%M%S")

    from brevity.bench.runner import BenchConfig, run_bench
    from brevity.engines import make_engine

    engines: dict = {}

    def get_engine(name: str):
        if name not in engines:
            console.print(f"loading {name} ...")
            engines[name] = make_engine("hf", str(resolve_model(name)), batch_size=batch_size)
        return engines[name]

    cfg = BenchConfig(task=task_spec, model=model, methods=[str(s) for s in specs], n=n, out=out, split=split,
                      latency_n=latency_n, batch_size=batch_size, max_tokens=max_tokens, resume=resume)
    rows = run_bench(cfg, get_engine, ProgressUI(progress))
    print_table(rows, title=f"{task_spec.name} {split}, n={n}")
    console.print(f"wrote {out}/records.jsonl, summary.json, report.md, pareto.png")


@app.command()
def train(
    recipe: str = typer.Argument(..., help="instruct, tokenskip, shortest, rl-length or l1."),
    out: Path = typer.Option(..., help="Folder to write the trained HF model into."),
    base: str = typer.Option("tiny-lrm", help="Parent model: zoo name or HF folder (same tokenizer and chat format)."),
    steps: int | None = typer.Option(None, help="Training steps (default: the zoo member made by this recipe)."),
    lr: float | None = typer.Option(None, help="Learning rate (default: the zoo member's)."),
) -> None:
    """Fine-tune a model with a recipe of the explicit family; settings default to the zoo member's."""
    import dataclasses

    from brevity.zoo.registry import MEMBERS, resolve_model

    members = {m.recipe: m for m in MEMBERS.values() if m.recipe != "sft"}
    if recipe not in members:
        raise BrevityError(f"unknown recipe {recipe!r}; choose one of {', '.join(members)}")
    if (steps is not None and steps <= 0) or (lr is not None and lr <= 0):
        raise BrevityError("--steps and --lr must be positive")
    if out.exists() and any(out.iterdir()):
        raise BrevityError(f"{out} exists and is not empty; choose a new --out")
    parent = resolve_model(base)
    member = dataclasses.replace(members[recipe], steps=steps or members[recipe].steps, lr=lr or members[recipe].lr)
    from brevity.ui import ProgressUI, console
    from brevity.zoo.build import train_member

    ui = ProgressUI()
    command = " ".join(["brevity", *sys.argv[1:]])
    with ui.task(f"{recipe} {out.name}", total=member.steps) as advance:
        train_member(member, parent, out, progress=lambda step, loss: advance(1), command=command)
    console.print(f"wrote {out} (manifest.json has the settings); bench it with --methods cot@{out}")


@zoo_app.command("list")
def zoo_list() -> None:
    """Show the zoo members, whether they are built, and their validation numbers."""
    from rich.console import Console
    from rich.table import Table

    from brevity.zoo import list_members

    t = Table()
    for c in ("name", "built", "params", "validation", "about"):
        t.add_column(c)
    for m in list_members():
        val = ", ".join(f"{k} {v}" for k, v in m["validation"].items())
        t.add_row(m["name"], "yes" if m["built"] else "no", str(m["params"] or "–"), val or "–", m["about"])
    Console().print(t)


@zoo_app.command("build")
def zoo_build(
    names: list[str] | None = typer.Argument(None, help="Members to build (default: all, parents first)."),
    out: Path | None = typer.Option(None, help="Write here instead of the package's checkpoint folder."),
    validate_n: int = typer.Option(500, help="Validation problems for the manifest's numbers."),
) -> None:
    """Reproduce the reference checkpoints with the sft recipe (minutes each on two CPU cores)."""
    from brevity.zoo.registry import MEMBERS, ZOO_DIR

    names = names or list(MEMBERS)
    for name in names:
        if name not in MEMBERS:
            raise BrevityError(f"unknown zoo member {name!r}; choose from {', '.join(MEMBERS)}")
    from brevity.ui import ProgressUI
    from brevity.zoo.build import build_member, validate_member

    ui = ProgressUI()
    root = out or ZOO_DIR
    for name in names:
        with ui.task(f"train {name}", total=MEMBERS[name].steps) as advance:
            build_member(name, Path(root), progress=lambda step, loss: advance(1))
        validate_member(name, Path(root), validate_n, ui)


@zoo_app.command("gguf")
def zoo_gguf(
    name: str = typer.Argument(..., help="Zoo name or HF folder."),
    llama_cpp: Path = typer.Option(..., help="llama.cpp source folder (scripts/fetch_llama_cpp_converter.sh)."),
    out: Path = typer.Option(..., help="Output .gguf file."),
) -> None:
    """Convert a model to GGUF for llama.cpp with llama.cpp's own converter."""
    from brevity.zoo import resolve_model
    from brevity.zoo.gguf import export_gguf

    export_gguf(resolve_model(name), out, llama_cpp)
    typer.echo(f"wrote {out}")


@tasks_app.command("list")
def tasks_list() -> None:
    """Task names."""
    from brevity.tasks import task_names

    for t in task_names():
        typer.echo(t)


@tasks_app.command("describe")
def tasks_describe(name: str) -> None:
    """What a task generates, its default difficulty and trace styles."""
    from brevity.tasks import describe_task

    typer.echo(describe_task(name))


@tasks_app.command("show")
def tasks_show(task: str = typer.Argument("arith"), n: int = 1, split: str = "validation",
               style: str = typer.Option("verbose", help="verbose, compact or none")) -> None:
    """Print problems with their gold traces."""
    from brevity.tasks import load_problems

    spec = parse_task(task)
    for p in load_problems(spec.name, split=split, n=n, **dict(spec.params)):
        if style not in p.traces:
            raise BrevityError(f"unknown style {style!r}; choose one of {', '.join(p.traces)}")
        typer.echo(f"# {p.id}\n{p.question}\n--- {style} trace\n{p.traces[style]}\n--- answer: {p.answer}\n")


@tasks_app.command("stats")
def tasks_stats(task: str = typer.Argument("arith"), n: int = 2000, split: str = "validation",
                tokenizer: str = typer.Option("tiny-lrm", help="Zoo name or folder whose tokenizer counts tokens.")):
    """Gold verbose traces: thinking tokens by number of steps and their outcome efficiency."""
    from collections import defaultdict
    from statistics import mean

    from transformers import AutoTokenizer

    from brevity.tasks import load_problems
    from brevity.thinking import first_mention
    from brevity.zoo import resolve_model

    tok = AutoTokenizer.from_pretrained(resolve_model(tokenizer))
    spec = parse_task(task)
    by_steps, ratios = defaultdict(list), []
    for p in load_problems(spec.name, split=split, n=n, **dict(spec.params)):
        ids = tok(p.traces["verbose"], add_special_tokens=False).input_ids
        by_steps[p.metadata.get("steps")].append(len(ids))
        first = first_mention(ids, tok, p.answer)
        if first:
            ratios.append(first / len(ids))
    for k in sorted(by_steps):
        typer.echo(f"steps={k}: n={len(by_steps[k])} mean thinking tokens {mean(by_steps[k]):.1f} "
                   f"max {max(by_steps[k])}")
    every = [x for v in by_steps.values() for x in v]
    typer.echo(f"all: mean thinking tokens {mean(every):.1f}; gold outcome efficiency {mean(ratios):.3f} "
               f"(ideal saving {1 - mean(ratios):.3f})")


def main() -> None:
    try:
        app(standalone_mode=False)
    except BrevityError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    except (typer.Exit, SystemExit) as e:
        code = getattr(e, "exit_code", getattr(e, "code", 0))
        sys.exit(code if isinstance(code, int) else 0)
    except typer.Abort:
        print("aborted", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("interrupted; records written so far are kept (rerun with --resume)", file=sys.stderr)
        sys.exit(130)
    except Exception as e:  # click usage errors come here with standalone_mode=False
        import click

        if isinstance(e, click.exceptions.ClickException):
            print(f"error: {e.format_message()}", file=sys.stderr)
            sys.exit(2)
        raise


if __name__ == "__main__":
    main()
