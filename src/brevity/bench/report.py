"""Turn records into summary rows, report.md and the accuracy-versus-thinking-tokens plot."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from pathlib import Path

from brevity.bench.metrics import summarize
from brevity.jsonl import JsonlStore
from brevity.methods.solution import Solution

COLUMNS = [("method", "method"), ("model", "model"), ("n", "n"), ("accuracy", "acc %"), ("accuracy_ci95", "95% CI"),
           ("mean_thinking_tokens", "think tok"), ("mean_generated_positions", "positions"),
           ("outcome_efficiency", "OE"), ("saving_vs_cot", "saved vs cot"), ("share_of_ideal_saving", "of ideal"),
           ("accuracy_diff_vs_cot", "Δacc vs cot"), ("strong_share", "strong calls"), ("aes", "AES"),
           ("mean_probe_tokens", "probe tok"),
           ("probe_time_share", "probe time"), ("latency_p50_s", "p50 s"),
           ("latency_p95_s", "p95 s"), ("throughput_tok_s", "tok/s"), ("peak_memory_mb", "peak MB")]


def current_weights(rows: list[dict], runs: list[dict]) -> tuple[list[dict], list[dict]]:
    """Records and runs of the weights a (method, model) name was last run with. A model rebuilt under
    the same name gets new record ids (they include its weights' hash), so --resume runs it afresh;
    its older records stay in the file but must not be averaged with the new ones. Runs written
    before runs carried a hash belong to the first weights seen."""
    first: dict[tuple[str, str], str] = {}
    last: dict[tuple[str, str], str] = {}
    for r in rows:
        key = (r["method"], r["model"])
        first.setdefault(key, r.get("model_hash"))
        last[key] = r.get("model_hash")
    rows = [r for r in rows if r.get("model_hash") == last[(r["method"], r["model"])]]
    runs = [r for r in runs if (r["method"], r["model"]) not in last
            or r.get("model_hash", first[(r["method"], r["model"])]) == last[(r["method"], r["model"])]]
    return rows, runs


def is_cot(spec: str) -> bool:
    """The baseline every "vs cot" column compares with: `cot`, with the run's own --max-tokens if it set one."""
    return spec == "cot" or re.fullmatch(r"cot:max_tokens=\d+", spec) is not None


def summarize_records(rows: list[dict], runs_path: Path, order: list[str]) -> list[dict]:
    runs = JsonlStore(runs_path).rows
    rows, runs = current_weights(rows, runs)
    groups: dict[tuple[str, str], list[Solution]] = defaultdict(list)
    for r in rows:
        groups[(r["method"], r["model"])].append(Solution.from_dict(r))
    out = []
    rank = {s: i for i, s in enumerate(order)}
    for (method, model), recs in sorted(groups.items(), key=lambda kv: (kv[0][1], rank.get(kv[0][0], 99))):
        cot = next((g for (m, mod), g in groups.items() if mod == model and is_cot(m)), None)
        row = {"method": method, "model": model, **summarize(recs, cot)}
        mine = [r for r in runs if r["method"] == method and r["model"] == model]
        batched = [r for r in mine if r["batched"]]
        secs = sum(r["seconds"] for r in batched)
        row["throughput_tok_s"] = sum(r["tokens"] for r in batched) / secs if secs else None
        # Share of the batched wall time spent in probes (early-exit methods); null when none probed.
        probe_secs = sum(r.probe_seconds for r in recs if r.latency_s is None)
        row["probe_time_share"] = probe_secs / secs if secs and probe_secs else None
        row["peak_memory_mb"] = max((r["peak_memory_mb"] for r in mine), default=None)
        out.append(row)
    cot_oe = {r["model"]: r["outcome_efficiency"] for r in out if is_cot(r["method"])}
    for r in out:
        oe = cot_oe.get(r["model"])
        r["ideal_saving_cot"] = (1 - oe) if oe is not None else None
        r["share_of_ideal_saving"] = (r["saving_vs_cot"] / (1 - oe)) if oe and r["saving_vs_cot"] is not None \
            else None
    return out


SAVINGS = ("saving_vs_cot", "share_of_ideal_saving")  # shown only where the accuracy holds
SAVINGS_NOTE = ("saved vs cot and of ideal are shown only where the accuracy holds (the paired 95% interval of "
                "Δacc vs cot has its lower bound above -1 point); summary.json has them for every row")


def cell(row: dict, key: str) -> str:
    """A table cell: a saving where the row lost accuracy against cot is no saving, so it is not shown."""
    if key in SAVINGS and row.get("accuracy_holds") is False:
        return "–"
    return fmt(key, row.get(key))


def fmt(key: str, v) -> str:
    if v is None:
        return "–"
    if key == "accuracy":
        return f"{100 * v:.1f}"
    if key == "accuracy_ci95":
        return f"{100 * v[0]:.1f}–{100 * v[1]:.1f}"
    if key == "accuracy_diff_vs_cot":
        return f"{100 * v:+.1f}"
    if key in ("saving_vs_cot", "share_of_ideal_saving", "probe_time_share", "strong_share"):
        return f"{100 * v:.0f}%"
    if key in ("latency_p50_s", "latency_p95_s"):
        return f"{v:.3f}"
    if isinstance(v, float):
        return f"{v:.2f}" if abs(v) < 10 else f"{v:.0f}"
    return str(v)


def markdown_table(rows: list[dict]) -> str:
    head = "| " + " | ".join(h for _, h in COLUMNS) + " |"
    sep = "|" + "|".join("---" for _ in COLUMNS) + "|"
    body = ["| " + " | ".join(cell(r, k) for k, _ in COLUMNS) + " |" for r in rows]
    return "\n".join([head, sep, *body])


def write_outputs(out: Path, rows: list[dict], records: list[dict], problems: list) -> None:
    """summary.json, report.md and pareto.png: with the per-group accuracies where the task names groups
    (breakdown.py), and the safety column and safety.png where its problems are judged by refusal (safety.py)."""
    from brevity.bench.breakdown import breakdown, breakdown_markdown
    from brevity.bench.kv import kv_markdown, kv_summary, plot_kv, split_label
    from brevity.bench.safety import plot_safety, safety_markdown, safety_summary

    groups = breakdown(records, problems)
    safety = safety_summary(records, problems)
    kv = kv_summary(records)
    for r in rows:
        if kv:
            r["kv"] = kv.get(f"{r['method']} @ {r['model']}")
        if groups:
            r["breakdown"] = {key: by_run.get(f"{r['method']} @ {r['model']}", {}) for key, by_run in groups.items()}
        if safety:
            r["safety"] = safety.get(f"{r['method']} @ {r['model']}")
    (out / "summary.json").write_text(json.dumps(rows, indent=2) + "\n")
    notes = ("acc % with Wilson 95% CI; think tok = mean thinking tokens (injected phrases count); positions = "
             "thinking + answer tokens + latent steps; OE = outcome efficiency (tokens to the first correct "
             "answer / all thinking tokens, correct solutions); saved vs cot = 1 - tokens / cot's tokens on the "
             "same problems "
             "(total generated positions for latent and routed methods); strong calls = share of problems a route "
             "sent to the strong side; of ideal = that saving over cot's ideal saving (1 - cot's OE); Δacc vs cot "
             "with a paired bootstrap interval in summary.json; AES of O1-Pruner (1, 3, 5); latency at batch 1 on a "
             f"fixed subsample; tok/s from the batched run. {SAVINGS_NOTE[0].upper()}{SAVINGS_NOTE[1:]}.")
    skipped = [f"{r['method']} @ {r['model']}: {r['skipped_long_prompts']}" for r in rows
               if r.get("skipped_long_prompts")]
    if skipped:
        notes += (" Skipped, prompt longer than the model's context (not in n or accuracy): " + ", ".join(skipped)
                  + ".")
    extra = f"\n\n{breakdown_markdown(groups)}" if groups else ""
    if safety:
        thinking = {f"{r['method']} @ {r['model']}": r["mean_thinking_tokens"] for r in rows}
        extra += f"\n\n{safety_markdown(safety, thinking)}\n\n![safety](safety.png)"
        plot_safety(safety, thinking, out / "safety.png")
    if kv:
        full = {f"{r['method']} @ {r['model']}": r["accuracy"] for r in rows
                if split_label(r["method"])[1] == "full" and any(s["method"] == r["method"] for s in kv.values())}
        extra += f"\n\n{kv_markdown(kv)}\n\n![kv cache](kv.png)"
        plot_kv(kv, full, out / "kv.png")
    (out / "report.md").write_text(f"# Brevity bench\n\n{markdown_table(rows)}\n\n{notes}{extra}\n\n"
                                   "![pareto](pareto.png)\n")
    plot_pareto(rows, out / "pareto.png")


def plot_pareto(rows: list[dict], path: Path) -> None:
    """Accuracy against mean thinking tokens; a method family swept over a parameter is one curve."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    families: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for r in rows:
        families[(r["method"].split(":")[0], r["model"])].append(r)
    many = len(families) > 8  # then the legend goes beside the axes, and colors and markers both vary
    fig, ax = plt.subplots(figsize=(10, 5.5) if many else (7, 4.5))
    colors, markers = plt.get_cmap("tab20").colors, "osD^vP*Xh<>p"
    for i, ((fam, model), rs) in enumerate(families.items()):
        rs = sorted(rs, key=lambda r: r["mean_thinking_tokens"])
        xs = [r["mean_thinking_tokens"] for r in rs]
        ys = [100 * r["accuracy"] for r in rs]
        # Clamped at 0: at 100% accuracy Wilson's upper bound can round to just under 1.0.
        err = [[max(0.0, 100 * (r["accuracy"] - r["accuracy_ci95"][0])) for r in rs],
               [max(0.0, 100 * (r["accuracy_ci95"][1] - r["accuracy"])) for r in rs]]
        label = fam if len({m for _, m in families}) == 1 else f"{fam} @ {model}"
        style = dict(marker=markers[i % len(markers)], color=colors[i % len(colors)]) if many else dict(marker="o")
        ax.errorbar(xs, ys, yerr=err, capsize=3, linestyle="-" if len(rs) > 1 else "none", label=label, **style)
        if len(rs) > 1:
            for r, x, y in zip(rs, xs, ys):
                ax.annotate(r["method"].split(":", 1)[-1], (x, y), textcoords="offset points", xytext=(4, -10),
                            fontsize=7)
    ax.set_xlabel("mean thinking tokens per problem")
    ax.set_ylabel("accuracy (%)")
    ax.grid(alpha=0.3)
    if many:
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    else:
        ax.legend(fontsize=8)
    ax.set_title("accuracy versus thinking tokens")
    fig.tight_layout()
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
