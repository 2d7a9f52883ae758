"""The `brevity` command. Heavy libraries (torch, transformers) are imported inside commands so
that `brevity --help` stays fast."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from brevity.cli.train import train_app
from brevity.errors import BrevityError

try:  # typer 0.29 vendors click
    from typer._click.core import ParameterSource
except ImportError:  # pragma: no cover  (an older typer, on the installed click)
    from click.core import ParameterSource

if TYPE_CHECKING:
    from brevity.bench.engines import EngineOptions

app = typer.Typer(add_completion=False, no_args_is_help=False, help="Brevity: fewer thinking tokens, same answers.",
                  pretty_exceptions_enable=False)
zoo_app = typer.Typer(help="The embedded default models (the tiny zoo).", no_args_is_help=True)
tasks_app = typer.Typer(help="Problem sets: list, describe, show.", no_args_is_help=True)
app.add_typer(zoo_app, name="zoo")
app.add_typer(tasks_app, name="tasks")
merge_app = typer.Typer(help="Merge a fast model and its reasoning sibling (mergekit); `merge sweep` draws the curve.",
                        invoke_without_command=True)
app.add_typer(merge_app, name="merge")
route_app = typer.Typer(help="Routing between a fast side and a strong side: curves, CPT and APGR.",
                        no_args_is_help=True)
app.add_typer(route_app, name="route")
formats_app = typer.Typer(help="Reasoning formats: how each model family writes its reasoning.", no_args_is_help=True)
app.add_typer(formats_app, name="formats")
app.add_typer(train_app, name="train")

DEFAULT_METHODS = "cot,nothink,budget:64,budget:96,budget:128,budget,budget:192,budget:256,deer"


def parse_task(text: str):
    """`arith`, or `arith:steps=3;max_steps=5` (brevity.spec.parse_task)."""
    from brevity.spec import parse_task as parse

    return parse(text)


@app.command()
def bench(
    task: str = typer.Option("arith", help="Task, optionally with parameters: arith:steps=3, gsm8k:path=DIR."),
    model: str = typer.Option("tiny-lrm", help="Default model for specs without @model: zoo name or HF folder "
                                               "(--engine openai: also a name that --tokenizer goes with)."),
    methods: str = typer.Option(DEFAULT_METHODS, help="Comma-separated method specs, e.g. cot,budget:128@tiny-lrm."),
    n: int = typer.Option(200, min=1, help="Number of test problems (the first n of the split)."),
    out: Path | None = typer.Option(None, help="Output folder (default: brevity-runs/<time>)."),
    resume: bool = typer.Option(False, help="Continue a run in --out, skipping records already there."),
    split: str = typer.Option("test", help="train, validation or test."),
    latency_n: int = typer.Option(20, min=0, help="Problems run alone at batch 1 for latency percentiles."),
    batch_size: int = typer.Option(32, min=1, help="Batch size of the hf engine."),
    max_tokens: int = typer.Option(1024, min=1, help="Generation cap for every method."),
    progress: bool = typer.Option(True, help="Show progress bars."),
    format: str | None = typer.Option(None, "--format", help="The models' reasoning format by name (`brevity formats "
                                                             "list`); default: resolved from each folder."),
    answer_tokens: int | None = typer.Option(None, help="Room for the answer after a forced close (default: the "
                                                        "format's: 512 for R1/Qwen/QwQ, 48 for the zoo)."),
    log_prompts: bool = typer.Option(False, help="Keep each rendered prompt in its record (field `prompt`)."),
    judge: str | None = typer.Option(None, help="Safety tasks: label refusals with this model and XSTest's judge "
                                     "prompt (a folder, zoo name or http://HOST:PORT/v1); default: the rule judge."),
    kv: str = typer.Option("", help="KV-cache policies to cross every method with (hf engine), e.g. "
                                    "\"full,rkv:budget=64,h2o:budget=64,streaming:budget=25%\"; adds the KV cache "
                                    "table and kv.png. Default: full only."),
    engine: str = typer.Option("hf", help="hf (in-process), openai (a running OpenAI-compatible server: --url), "
                                          "vllm (starts and stops a `vllm serve` per model) or llama-cpp (converts "
                                          "to GGUF, starts llama.cpp's server per model)."),
    url: list[str] = typer.Option([], help="openai: the server's base URL, http://HOST:PORT/v1; repeat as "
                                           "MODEL=URL for each model of a run (a route's fast model)."),
    served_model: str = typer.Option("", help="openai: the default model's name on the server (default: the one "
                                              "it lists, or --model's name)."),
    tokenizer: list[str] = typer.Option([], help="openai: a folder with the model's tokenizer (counts thinking "
                                                 "tokens); needed unless --model is a local folder or zoo name; "
                                                 "MODEL=DIR for other models."),
    concurrency: int = typer.Option(64, min=1, help="openai, vllm: requests in flight at once."),
    api_key: str = typer.Option("", help="openai: the server's API key (sent as a Bearer token)."),
    timeout: float = typer.Option(600.0, min=1, help="openai, vllm: seconds per request before it is retried."),
    vllm_venv: str = typer.Option("", help="vllm: the venv vLLM is installed in (default: "
                                           "~/.cache/brevity/vllm-cpu, or $BREVITY_VLLM_VENV)."),
    vllm_args: str = typer.Option("", help="vllm: extra `vllm serve` arguments, e.g. \"--dtype auto "
                                           "--tensor-parallel-size 4\" (they override Brevity's CPU defaults)."),
) -> None:
    """Run methods side by side on one task and print the table (writes records, summary, report, plot)."""
    import shlex

    from brevity.bench.engines import EngineOptions, parse_pairs
    from brevity.ui import console

    opts = EngineOptions(kind=engine, urls=parse_pairs(url, "--url"), tokenizers=parse_pairs(tokenizer, "--tokenizer"),
                         served_model=served_model, api_key=api_key or None, timeout=timeout, concurrency=concurrency,
                         batch_size=batch_size, vllm_args=tuple(shlex.split(vllm_args)), reasoning_format=format,
                         answer_tokens=answer_tokens,
                         **({"vllm_venv": vllm_venv} if vllm_venv else {}))
    from brevity.methods import build_method, parse_spec_list

    specs = parse_spec_list(methods)
    if not specs:
        raise BrevityError("--methods is empty; give e.g. cot,nothink,budget:128")
    for s in specs:  # validate everything before any work starts (models: by the engine pool, before --out)
        build_method(s)
    parse_task(task)
    from brevity.engines.kv_policy import parse_kv_list

    policies = [p.text() for p in parse_kv_list(kv)] if kv.strip() else []
    out = out or Path("brevity-runs") / datetime.now().strftime("%Y%m%d-%H%M%S")

    _bench(task, [model], [str(s) for s in specs], n, out, split, batch_size, resume, latency_n, max_tokens,
           progress, opts, log_prompts=log_prompts, judge=judge, kv=policies)
    console.print(f"wrote {out}/records.jsonl, summary.json, report.md, pareto.png")


def _merge_folders(fast: str, reasoning: str, base: str | None) -> tuple[str, str, str | None]:
    from brevity.zoo import resolve_model

    return str(resolve_model(fast)), str(resolve_model(reasoning)), str(resolve_model(base)) if base else None


@merge_app.callback()
def merge(
    ctx: typer.Context,
    out: Path | None = typer.Option(None, help="Folder for the merged HF model."),
    method: str = typer.Option("task_arithmetic", help="task_arithmetic, ties, dare_ties, dare_linear or slerp."),
    weight: float = typer.Option(0.5, help="The reasoning model's share, 0..1 (0 gives the fast model back)."),
    density: float = typer.Option(1.0, help="Kept fraction of each task vector (ties, dare_*)."),
    fast: str = typer.Option("tiny-llm", help="The fast model: zoo name or HF folder."),
    reasoning: str = typer.Option("tiny-lrm", help="The reasoning model; the merge takes its tokenizer and template."),
    base: str | None = typer.Option("tiny-base", help="Their shared parent (task-vector methods; not slerp)."),
    seed: int = typer.Option(0, help="Seed of DARE's random drops (dare_ties, dare_linear)."),
) -> None:
    """Merge two models of one architecture into a new HF folder (with a manifest)."""
    if ctx.invoked_subcommand is not None:
        return
    if out is None:
        raise BrevityError("--out is required: the folder to write the merged model into")
    from brevity.merge import MergePlan, merge_models
    from brevity.merge.merging import MERGE_METHODS

    if method in MERGE_METHODS and not MERGE_METHODS[method][2] and \
            ctx.get_parameter_source("base") == ParameterSource.DEFAULT:
        base = None  # the default parent, for the methods that read one
    f, r, b = _merge_folders(fast, reasoning, base)
    plan = MergePlan(method, weight, f, r, b, density=density, seed=seed)
    merge_models(plan, out, command=" ".join(["brevity", *sys.argv[1:]]))
    typer.echo(f"wrote {out} (tokenizer and chat template from {reasoning}); bench it with --methods cot@{out}")


def _floats(text: str, what: str) -> list[float]:
    try:
        vals = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise BrevityError(f"{what} must be comma-separated numbers, got {text!r}") from None
    if not vals:
        raise BrevityError(f"{what} is empty")
    return vals


@merge_app.command("sweep")
def merge_sweep(
    out: Path = typer.Option(..., help="Folder for the merged models, the bench records and the curve."),
    methods: str = typer.Option("task_arithmetic,ties,dare_ties,dare_linear,slerp", help="Merge methods."),
    weights: str = typer.Option("0.5,0.6,0.7,0.8,0.9", help="Reasoning-model shares."),
    densities: str = typer.Option("0.5,0.8", help="Kept fractions for ties and dare_*."),
    fast: str = typer.Option("tiny-llm"), reasoning: str = typer.Option("tiny-lrm"),
    base: str = typer.Option("tiny-base"),
    bench_method: str = typer.Option("cot", help="The method every model is benched with."),
    task: str = typer.Option("arith"), n: int = typer.Option(200, min=1), split: str = typer.Option("validation"),
    batch_size: int = typer.Option(64, min=1), resume: bool = typer.Option(False, help="Continue a sweep in --out."),
) -> None:
    """Merge over a grid, bench each merge and both parents, plot accuracy against thinking tokens."""
    from brevity.merge.sweep import best_tradeoff, build_merges, plot_sweep, sweep_plans, sweep_rows
    from brevity.methods import build_method, parse_spec

    spec = parse_spec(bench_method)
    if spec.model:
        raise BrevityError("--bench-method takes no @model; the sweep sets the model")
    build_method(spec)
    f, r, b = _merge_folders(fast, reasoning, base)
    plans = sweep_plans([m.strip() for m in methods.split(",") if m.strip()], _floats(weights, "--weights"),
                        _floats(densities, "--densities"), f, r, b)
    from brevity.ui import console

    console.print(f"merging {len(plans)} models into {out / 'models'} ...")
    merged = build_merges(plans, out / "models", command=" ".join(["brevity", *sys.argv[1:]]))
    models = [f, r, *map(str, merged.values())]
    rows = _bench(task, models, [f"{bench_method}@{m}" for m in models], n, out / "bench", split, batch_size, resume)
    table = sweep_rows(rows, merged, {"fast": Path(f).name, "reasoning": Path(r).name})
    (out / "sweep.json").write_text(json.dumps(table, indent=2) + "\n")
    plot_sweep(table, out / "merge_curve.png", f"{bench_method} on {task} {split}, n={n}: merges of "
                                                f"{Path(f).name} and {Path(r).name}")
    best = best_tradeoff(table, Path(r).name)
    console.print(f"wrote {out}/sweep.json and merge_curve.png; bench report in {out}/bench")
    if best:
        console.print(f"fewest thinking tokens within 2 points of {Path(r).name}: {best['model']} "
                      f"({100 * best['accuracy']:.1f}%, {best['mean_thinking_tokens']:.0f} tokens)")


def _bench(task: str, models: list[str], methods: list[str], n: int, out: Path, split: str, batch_size: int,
           resume: bool, latency_n: int = 0, max_tokens: int = 1024, progress: bool = True,
           engines: EngineOptions | None = None, log_prompts: bool = False, judge: str | None = None,
           kv: list[str] | None = None) -> list[dict]:
    """The bench, as `brevity bench` runs it, for commands that bench models they made; `engines` (EngineOptions)
    says which engine runs the models (default: in-process hf) and with which reasoning format."""
    from brevity.api import benchmark
    from brevity.bench.engines import EngineOptions
    from brevity.ui import console, print_table

    rows = benchmark(models[0], methods, task=task, n=n, split=split, out=out, max_tokens=max_tokens,
                     latency_n=latency_n, batch_size=batch_size, resume=resume, progress=progress,
                     log_prompts=log_prompts, judge=judge, kv=kv, options=engines or EngineOptions(batch_size=batch_size),
                     announce=lambda m: console.print(f"loading {m} ...")).rows
    print_table(rows, title=f"{task} {split}, n={n}")
    return rows


@route_app.command("eval")
def route_eval(
    routes: str = typer.Option("route:cascade,route:router,route:switch", help="Route specs (the bench's grammar)."),
    model: str = typer.Option("tiny-lrm", help="The strong model (the routes' @model)."),
    task: str = typer.Option("arith"), n: int = typer.Option(2000, min=1, help="Test problems."),
    out: Path = typer.Option(..., help="Folder for routes.json, routes.md and routing.png."),
    batch_size: int = typer.Option(64, min=1),
) -> None:
    """Each route's quality against the share of strong calls on the test split, CPT(50/80/95%) and APGR,
    with the threshold calibrated on validation (both sides' runs are cached and shared with calibration)."""
    from brevity.engines import make_engine
    from brevity.methods import build_method, parse_spec_list
    from brevity.route.evaluate import evaluate_route, write_route_report
    from brevity.route.method import Route
    from brevity.ui import ProgressUI, console
    from brevity.zoo import resolve_model

    specs = parse_spec_list(routes)
    methods = [build_method(s) for s in specs]
    for s, m in zip(specs, methods):
        if not isinstance(m, Route):
            raise BrevityError(f"{s} is not a route; give route:cascade, route:router or route:switch specs")
    task_spec = parse_task(task)
    engines: dict = {}

    def get_engine(name: str):
        path = str(resolve_model(name))
        if path not in engines:
            engines[path] = make_engine("hf", path, batch_size=batch_size)
        return engines[path]

    ui = ProgressUI()
    results = [evaluate_route(m, s.model or model, task_spec, n, get_engine, ui) for s, m in zip(specs, methods)]
    write_route_report(results, out)
    console.print((out / "routes.md").read_text())
    console.print(f"wrote {out}/routes.json, routes.md, routing.png")


@app.command()
def regrade(
    run: Path = typer.Argument(..., help="A `brevity bench --out` folder."),
) -> None:
    """Score a run's records again with the current grader and rewrite its summary, report and plot; nothing is
    generated."""
    from brevity.bench.regrade import read_run
    from brevity.bench.regrade import regrade as rescore
    from brevity.ui import ProgressUI, console, print_table

    _, records = read_run(run)  # a folder that holds no run: one line, before any progress bar
    ui = ProgressUI()
    with ui.task(f"regrade {run}", total=len(records)) as advance:
        result = rescore(run, progress=advance)
    print_table(result.rows, title=f"{run} (regraded)")
    console.print(f"{result.records} records scored again; {result.changed} changed their verdict; wrote "
                  f"{run}/summary.json, report.md, pareto.png")


@app.command()
def explain(
    model: str = typer.Option(..., help="A latent model folder (brevity train coconut|codi|pause|pause-curriculum)."),
    task: str = typer.Option("arith"), n: int = typer.Option(100, min=1, help="Problems to read."),
    split: str = typer.Option("test"), thoughts: int = typer.Option(-1, help="Thought count (-1: the manifest's)."),
    top: int = typer.Option(5, min=1, help="Tokens shown per thought (logit lens, nearest embeddings)."),
    out: Path | None = typer.Option(None, help="Write every reading and the rates as JSON here."),
    probe: str = typer.Option("", help="Instead of reading thoughts: fit a linear probe for a value the model "
                                       "computes unwritten. running-sums: mult's c_hat_k at each answer digit "
                                       "(--task mult:order=lsd), R squared on the held-out half of --n problems. "
                                       "refusal: whether the model will refuse, from its first k thinking tokens "
                                       "(a safety task), AUROC on the held-out half."),
    layer: int = typer.Option(-1, help="--probe: the block whose output is read (-1: the last)."),
    kv: str = typer.Option("", help="Instead of reading thoughts: decode `cot` under each KV-cache policy "
                                    "(comma-separated, e.g. rkv:budget=64,streaming:budget=64) and print, line by line, "
                                    "which trace tokens its cache still held at the end (dim: evicted)."),
    max_tokens: int = typer.Option(1024, min=1, help="--kv: the generation cap."),
) -> None:
    """Read a latent model's thoughts back: logit lens, nearest token embeddings, the text decoded from each
    thought, and how often that text starts with a gold intermediate result. With --probe, the linear probe of
    brevity.recipes.latent.probe instead (any model of the zoo's format, with thoughts or not); with --kv, what
    each KV-cache policy kept of a reasoning model's traces."""
    from rich.table import Table

    from brevity.engines.hf import HFEngine
    from brevity.explain import decode_rates, to_json
    from brevity.explain import explain as read
    from brevity.recipes.latent.probe import PROBES
    from brevity.safety.probe import PROBES as SAFETY_PROBES
    from brevity.tasks import load_problems
    from brevity.ui import console, report_console
    from brevity.zoo import resolve_model

    task_spec = parse_task(task)
    if probe and probe not in PROBES + SAFETY_PROBES:
        raise BrevityError(f"unknown --probe {probe!r}; one of: {', '.join(PROBES + SAFETY_PROBES)}")
    if not probe and layer != -1:
        raise BrevityError("--layer is the probe's: add --probe running-sums or --probe refusal")
    if kv and probe:
        raise BrevityError("--kv and --probe are two readings: give one")
    from brevity.engines.kv_policy import parse_kv_list

    policies = parse_kv_list(kv) if kv.strip() else []
    engine = HFEngine(resolve_model(model))
    problems = load_problems(task_spec.name, split=split, n=n, **dict(task_spec.params))
    if policies:
        _kv_report(engine, problems, policies, max_tokens, out)
        return
    if probe == "refusal":
        _refusal_probe_report(engine, problems, layer, out, task)
        return
    if probe:
        _probe_report(engine, problems, layer, out, task)
        return
    readings = []
    for i in range(0, n, 64):
        readings += read(engine, problems[i:i + 64], None if thoughts < 0 else thoughts, top)
    rates = decode_rates(readings)
    ex = readings[0]
    table = Table(title=f"{ex.problem_id}: gold intermediates {', '.join(ex.intermediates)}")
    for col in ("thought", "logit lens (top)", "nearest embeddings", "decoded from it", "gold?"):
        table.add_column(col)
    for t in ex.thoughts:
        table.add_row(str(t.position), " ".join(f"{s!r}:{p:.2f}" for s, p in t.lens[:3]),
                      " ".join(repr(s) for s, _ in t.nearest[:3]), repr(t.decoded), "yes" if t.gold else "")
    report = report_console()
    report.print(ex.question)
    report.print(table)
    report.print(f"decode rate (a thought's text starts with a gold intermediate): {rates['decode_rate']} over "
                  f"{rates['thoughts']} thoughts of {rates['problems']} problems; per position {rates['per_position']}")
    if out:
        out.write_text(json.dumps(to_json(readings, rates, engine.model_name, task), indent=1) + "\n")
        console.print(f"wrote {out}")


def _kv_report(engine, problems, policies, max_tokens: int, out: Path | None) -> None:
    """`explain --kv`: each trace line by line, evicted tokens dim, with the share of its tokens each policy kept."""
    from rich.text import Text

    from brevity.explain_kv import kept_traces
    from brevity.ui import console, report_console

    report = report_console()
    found = []
    for policy in policies:
        traces = kept_traces(engine, problems, policy, max_tokens)
        found += traces
        for t in traces:
            report.print(f"[bold]{t.problem_id} under {t.policy}[/bold]: each layer's KV head holds "
                         f"{100 * sum(t.kept) / max(1, len(t.kept)):.0f}% of the {len(t.kept)} trace tokens at the end "
                         "(a line's % is its tokens' mean share over layers and heads)")
            for text_line, share in _kept_lines(t):
                report.print(Text(f"{100 * share:5.0f}%  ").append(text_line))
    if out:
        out.write_text(json.dumps([t.to_dict() for t in found], indent=1) + "\n")
        console.print(f"wrote {out}")


def _kept_lines(trace):
    """The trace's lines as rich Text, tokens no cache kept dim and struck through, with each line's kept share."""
    from rich.text import Text

    lines, line, shares = [], Text(), []
    for tok, share in zip(trace.tokens, trace.kept):
        for i, part in enumerate(tok.split("\n")):
            if i:
                lines.append((line, sum(shares) / len(shares) if shares else 0.0))
                line, shares = Text(), []
            line.append(part, style="" if share > 0.5 else ("dim" if share > 0 else "dim strike"))
        shares.append(share)
    if line.plain.strip():
        lines.append((line, sum(shares) / len(shares) if shares else 0.0))
    return [(ln, s) for ln, s in lines if ln.plain.strip()]


def _probe_report(engine, problems, layer: int, out: Path | None, task: str) -> None:
    """`explain --probe running-sums`: R squared and mean absolute error per answer digit, on held-out problems."""
    from dataclasses import asdict

    from rich.table import Table

    from brevity.recipes.latent.probe import running_sum_probe
    from brevity.ui import console, report_console

    result = running_sum_probe(engine.model(), engine.tokenizer, problems, layer)
    table = Table(title=f"{engine.model_name}: linear probe for the running sums c_hat_k, block {result.layer} of "
                        f"{result.layers}, fitted on {result.fit} problems, measured on {result.held_out}")
    for col in ("digit k", "R squared", "mean abs error"):
        table.add_column(col)
    for k, (r2, mae) in enumerate(zip(result.r2, result.mae)):
        table.add_row(str(k), f"{r2:.3f}", f"{mae:.1f}")
    report_console().print(table)
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({"model": engine.model_name, "task": task, **asdict(result)}, indent=1) + "\n")
        console.print(f"wrote {out}")


def _refusal_probe_report(engine, problems, layer: int, out: Path | None, task: str) -> None:
    """`explain --probe refusal`: the probe's and the text monitor's AUROC after k thinking tokens."""
    from dataclasses import asdict

    from rich.table import Table

    from brevity.safety.probe import refusal_probe
    from brevity.ui import ProgressUI, console, report_console

    with ProgressUI(True).task("cot, then the probe", total=len(problems)) as advance:
        result = refusal_probe(engine, problems, layer, progress=advance)
    table = Table(title=f"{engine.model_name}: does it refuse? A linear probe on block {result.layer} of "
                        f"{result.layers} after k thinking tokens, fitted on {result.fit} prompts, AUROC on "
                        f"{result.held_out} (refused {100 * result.refused:.0f}%, median thinking "
                        f"{result.median_thinking:.0f} tokens)")
    for col in ("k", "probe AUROC", "text monitor AUROC"):
        table.add_column(col)
    for k, a, t in zip(result.ks, result.auroc, result.text_auroc):
        table.add_row(str(k), "–" if a is None else f"{a:.3f}", "–" if t is None else f"{t:.3f}")
    report_console().print(table)
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({"model": engine.model_name, "task": task, **asdict(result)}, indent=1) + "\n")
        console.print(f"wrote {out}")


LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


@app.command()
def serve(
    ctx: typer.Context,
    model: str = typer.Option("tiny-lrm", help="The model to serve with defaults (a zoo name or an HF folder)."),
    config: Path | None = typer.Option(None, help="A TOML config (models, backends, efforts, aliases, limits); "
                                                  "see docs/serve.example.toml. Replaces --model and --backend."),
    backend: str = typer.Option("hf", help="hf (in-process), vllm (starts vllm serve) or openai (an upstream)."),
    url: str = typer.Option("", help="The upstream's base URL for --backend openai, e.g. http://host:8000/v1."),
    native_budget: bool = typer.Option(False, help="Upstream vLLM enforces thinking budgets itself "
                                                   "(thinking_token_budget); --backend vllm starts it so."),
    host: str = typer.Option("127.0.0.1"), port: int = typer.Option(8000, min=1, max=65535),
    api_key: str = typer.Option("", envvar="BREVITY_API_KEY", help="Required from clients as a Bearer token; "
                                                                    "without one the server binds to 127.0.0.1 only."),
    batch_size: int = typer.Option(0, min=0, help="Most requests decoded together (1: one at a time; 0: the "
                                                  "config's)."),
    max_concurrency: int = typer.Option(0, min=0, help="Requests in flight before 429 (0: the config's, 64 by "
                                                       "default)."),
    timeout: float = typer.Option(0, min=0, help="Seconds per request before 504 (0: the config's, 300 by default)."),
    format: str = typer.Option("", "--format", help="The model's reasoning format by name (`brevity formats list`); "
                                                    "default: resolved from the folder. With --config: set per model."),
    answer_tokens: int = typer.Option(0, help="Room for the answer after a forced close (0: the format's)."),
    log_prompts: Path | None = typer.Option(None, help="Append each request's rendered prompt to this JSONL file."),
) -> None:
    """An OpenAI-compatible reasoning gateway: enforced `thinking_budget`, `reasoning_effort`, `early_exit`
    (deer, dynasor) and routes (model `route:cascade`), with reasoning in `reasoning_content` and
    `usage.completion_tokens_details.reasoning_tokens`."""
    import threading
    import time

    import uvicorn

    from brevity.serve.app import create_app
    from brevity.serve.config import load_config, single_model
    from brevity.ui import ProgressUI, console

    given = [f"--{p.replace('_', '-')}" for p in ("model", "backend", "url", "format", "answer_tokens")
             if ctx.get_parameter_source(p) != ParameterSource.DEFAULT]
    if config and given:
        raise BrevityError(f"{', '.join(given)} set the one model served without a config; with --config give "
                           "them per model in the config")
    cfg = load_config(config) if config else single_model(model, backend=backend, url=url, format=format,
                                                          answer_tokens=answer_tokens)
    if log_prompts:
        cfg.log_prompts = str(log_prompts)
    if native_budget:
        for m in cfg.models.values():
            m.native_budget = True
    if api_key:
        cfg.api_key = api_key
    if not cfg.api_key and host not in LOCAL_HOSTS:
        raise BrevityError(f"refusing to serve on {host} without an API key; give --api-key (or BREVITY_API_KEY), "
                           "or keep the default host 127.0.0.1")
    for m in cfg.models.values():
        m.batch_size = batch_size or m.batch_size
    cfg.limits.max_concurrency = max_concurrency or cfg.limits.max_concurrency
    cfg.limits.timeout_s = timeout or cfg.limits.timeout_s
    from brevity.serve.gateway import Gateway

    gw = Gateway(cfg, ui=ProgressUI())
    console.print(f"loading {', '.join(cfg.models)} ...")
    gw.start(calibrate=False)  # before the port opens: a bad model or config fails here, with exit 2
    console.print(f"serving {', '.join([*cfg.models, *cfg.aliases])} on http://{host}:{port}/v1")
    pending = [a for a, s in gw.alias_state.items() if s != "ready"]
    if pending:
        console.print(f"calibrating {', '.join(pending)} once the port is open (503 until ready; GET /health "
                      "says when)")
    # The app closes the gateway at shutdown (and so stops a vLLM it started).
    server = uvicorn.Server(uvicorn.Config(create_app(cfg, gw, close_gateway=True), host=host, port=port,
                                           log_level="warning"))

    def calibrate_once_listening() -> None:  # routes would slow the start down on a small machine
        while not server.started and not server.should_exit:
            time.sleep(0.05)
        if server.started:
            gw.calibrate()

    threading.Thread(target=calibrate_once_listening, daemon=True).start()
    server.run()


@formats_app.command("list")
def formats_list() -> None:
    """The named formats (`--format NAME` on bench and serve, `format = "NAME"` in the serve config)."""
    from brevity.formats import FORMATS

    for f in FORMATS.values():
        markers = f"{f.open} ... {f.close}" if f.thinks else "no thinking section"
        opens = "prompt opens it" if f.prompt_opens else "model opens it"
        typer.echo(f"{f.name:<12} {markers}; {opens}; switch {f.switch or '-'}; vLLM parser {f.vllm_parser or '-'}")
        typer.echo(f"{'':<12} {f.about}")


@formats_app.command("show")
def formats_show(
    model: str = typer.Argument(..., help="A zoo name or an HF folder."),
    format: str | None = typer.Option(None, "--format", help="Resolve as this named format instead."),
    answer_tokens: int | None = typer.Option(None, help="Room for the answer after a forced close."),
) -> None:
    """What a model folder resolves to, before a long run: markers and their ids, stop ids, the phrases
    methods inject, and the prompt a benchmark question renders to (thinking on and off)."""
    from brevity.formats import load_format
    from brevity.zoo import resolve_model

    fmt = load_format(resolve_model(model), format, answer_tokens)
    s = fmt.spec
    tok = fmt.tokenizer
    if s.switch and s.switch_closes:
        off = f"{s.switch}={s.switch_off!r}, the template's own off form {s.off_form!r}"
    elif s.switch:
        off = f"{s.switch}={s.switch_off!r} and the prefill {fmt.off_prefill()!r}"
    else:
        off = "prefill " + repr(fmt.off_prefill())
    effort = f"{s.effort}: {', '.join(s.effort_levels)} (and the enforced budget)" if s.effort else "–"
    rows = [("format", f"{s.name} ({fmt.why})"), ("open", f"{s.open!r} ids {fmt.open_ids}" if s.open else "–"),
            ("close", f"{s.close!r} ids {fmt.close_ids}" if s.close else "–"),
            ("prompt opens thinking", "yes" if s.prompt_opens else "no (the model opens it)"),
            ("thinking on", f"{s.switch}={s.switch_on!r}" if s.switch else "–"),
            ("thinking off", off if s.thinks else "–"), ("reasoning_effort", effort),
            ("stop ids", ", ".join(f"{i} {tok.convert_ids_to_tokens(i)!r}" for i in sorted(fmt.stop_ids))),
            ("forced close", repr(s.forced_close)), ("probe", repr(tok.decode(fmt.probe_suffix())) + " ... "
                                                     + repr(s.answer_end)),
            ("answer tokens", str(fmt.answer_tokens)), ("vLLM reasoning parser", s.vllm_parser or "–")]
    for k, v in rows:
        typer.echo(f"{k:>22}: {v}")
    if fmt.evidence:
        typer.echo("\nevidence (what the chat template rendered):")
        for fact, shown in fmt.evidence:
            typer.echo(f"{fact:>22}: {shown}")
    question = fmt.messages("What is 2 + 3?")
    typer.echo(f"\nprompt (thinking on):\n{fmt.render(question)!r}")
    if s.thinks:
        typer.echo(f"prompt (thinking off):\n{fmt.render(question, thinking=False)!r}")


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
    out: Path | None = typer.Option(None, help="Write here instead of each member's own place (the package's "
                                             "checkpoint folder or the repository's zoo-data folder)."),
    validate_n: int = typer.Option(500, min=1, help="Validation problems for the manifest's numbers."),
    resume: bool = typer.Option(False, help="Continue a stopped build from its last checkpoint "
                                            "(OUT/NAME/checkpoints)."),
) -> None:
    """Reproduce the reference checkpoints with their recipes (minutes each on two CPU cores; a family member,
    zoo/family.py, hours, stored compactly in the repository's zoo-data folder)."""
    from brevity.zoo.family import FAMILY_MEMBERS, build_family_member, validate_family_member
    from brevity.zoo.registry import MEMBERS, data_root, member_dir

    names = names or [*MEMBERS, *FAMILY_MEMBERS]
    for name in names:
        if name not in MEMBERS and name not in FAMILY_MEMBERS:
            raise BrevityError(f"unknown zoo member {name!r}; choose from {', '.join([*MEMBERS, *FAMILY_MEMBERS])}")
    from brevity.cli.train import roll_out_parent
    from brevity.ui import ProgressUI
    from brevity.zoo.build import build_member, has_checkpoint, loadable_member, validate_member

    ui = ProgressUI()
    for name in names:
        if name in FAMILY_MEMBERS:
            stored = Path(out or data_root()) / name
            with ui.task(f"train {name}", total=FAMILY_MEMBERS[name].steps) as advance:
                build_family_member(name, stored, progress=lambda step, loss: advance(1),
                                    resume=resume and has_checkpoint(stored))
            validate_family_member(name, stored, validate_n, ui)
            continue
        if MEMBERS[name].parent:
            roll_out_parent(ui, MEMBERS[name], loadable_member(MEMBERS[name].parent, out))
        with ui.task(f"train {name}", total=MEMBERS[name].steps + MEMBERS[name].warmup_steps) as advance:
            build_member(name, out, progress=lambda step, loss: advance(1),
                         resume=resume and has_checkpoint(member_dir(name, out)))
        validate_member(name, out, validate_n, ui)


@zoo_app.command("materialize")
def zoo_materialize(
    name: str = typer.Argument(..., help="A family member (zoo/family.py), e.g. tiny-qwen3-lrm."),
    out: Path | None = typer.Option(None, help="Write the full folder here (default: ~/.cache/brevity/zoo/NAME, "
                                               "where `--model NAME` finds it)."),
) -> None:
    """Write a family member's full Hugging Face folder (every vocabulary row) from its compact store."""
    from brevity.zoo.family import FAMILY_MEMBERS, family_path, materialize

    if name not in FAMILY_MEMBERS:
        raise BrevityError(f"{name!r} is not a family member; choose from {', '.join(FAMILY_MEMBERS)}")
    typer.echo(f"wrote {materialize(name, out=out) if out else family_path(name)}")


@zoo_app.command("gguf")
def zoo_gguf(
    name: str = typer.Argument(..., help="Zoo name or HF folder."),
    llama_cpp: Path = typer.Option(None, help="llama.cpp source folder (default: $BREVITY_LLAMA_CPP or "
                                   "~/.cache/brevity/llama-cpp-src: scripts/fetch_llama_cpp_converter.sh)."),
    out: Path = typer.Option(None, help="Output .gguf file (default: ~/.cache/brevity/gguf/NAME.gguf)."),
) -> None:
    """Convert a model to GGUF for llama.cpp with llama.cpp's own converter."""
    from brevity.zoo import resolve_model
    from brevity.zoo.gguf import GGUF_CACHE, default_converter, export_gguf

    out = out or GGUF_CACHE / f"{Path(name).name}.gguf"
    out.parent.mkdir(parents=True, exist_ok=True)
    export_gguf(resolve_model(name), out, llama_cpp or default_converter())
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
               style: str = typer.Option("verbose", help="verbose, sampled, brief, compact or none")) -> None:
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


# typer 0.29 vendors click; usage errors raise its exceptions, not the installed click's.
_ClickException = getattr(getattr(typer, "_click", None), "exceptions", None)
_ClickException = _ClickException.ClickException if _ClickException else __import__("click").ClickException


def main() -> None:
    try:
        app(standalone_mode=False)
    except BrevityError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    except _ClickException as e:  # a bad option or argument: click's message, in one line
        ctx = getattr(e, "ctx", None)
        hint = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
        print(f"error: {e.format_message()}{hint}", file=sys.stderr)
        sys.exit(e.exit_code)
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
