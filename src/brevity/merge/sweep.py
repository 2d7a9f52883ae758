"""`brevity merge sweep`: merge over a grid of weights (and densities), bench every merged model and
both parents with the same method on the same problems, and draw the accuracy-versus-thinking-tokens
curve each merge method buys."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from brevity.errors import BrevityError
from brevity.manifest import has_manifest, read_manifest
from brevity.merge.merging import MERGE_METHODS, MergePlan, merge_models


def sweep_plans(methods: list[str], weights: list[float], densities: list[float], fast: str, reasoning: str,
                base: str | None) -> list[MergePlan]:
    """Every (method, weight[, density]) point; densities apply only to the sparsifying methods."""
    plans = []
    for m in methods:
        if m not in MERGE_METHODS:
            raise BrevityError(f"unknown merge method {m!r}; choose from {', '.join(MERGE_METHODS)}")
        _, sparse, task_vectors = MERGE_METHODS[m]
        for w in weights:
            for d in densities if sparse else [1.0]:
                plans.append(MergePlan(m, w, fast, reasoning, base if task_vectors else None, density=d))
    return plans


def build_merges(plans: list[MergePlan], models_dir: Path, command: str = "") -> dict[str, Path]:
    """Merged folders by label; an existing one (from an interrupted sweep) is reused, not rebuilt."""
    out = {}
    for plan in plans:
        folder = models_dir / plan.label
        if not has_manifest(folder):
            merge_models(plan, folder, command=command)
        out[plan.label] = folder
    return out


def sweep_rows(summary: list[dict], merged: dict[str, Path], parents: dict[str, str]) -> list[dict]:
    """Bench summary rows annotated with merge method, weight and density (parents marked as such)."""
    by_folder = {p.name: label for label, p in merged.items()}
    rows = []
    for r in summary:
        label = by_folder.get(r["model"])
        if label is not None:
            info = read_manifest(merged[label])["merge"]
            rows.append({**r, "merge": info["method"], "weight": info["weight"], "density": info["density"]})
        elif r["model"] in parents.values():
            role = next(k for k, v in parents.items() if v == r["model"])
            rows.append({**r, "merge": f"parent ({role})", "weight": 1.0 if role == "reasoning" else 0.0,
                         "density": None})
    return rows


def plot_sweep(rows: list[dict], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    curves: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        if not r["merge"].startswith("parent"):
            key = r["merge"] + (f" d={r['density']:g}" if MERGE_METHODS[r["merge"]][1] else "")
            curves[key].append(r)
    for key, rs in sorted(curves.items()):
        rs = sorted(rs, key=lambda r: r["weight"])
        ax.plot([r["mean_thinking_tokens"] for r in rs], [100 * r["accuracy"] for r in rs], marker="o", label=key)
        for r in rs:
            ax.annotate(f"{r['weight']:g}", (r["mean_thinking_tokens"], 100 * r["accuracy"]),
                        textcoords="offset points", xytext=(3, 3), fontsize=6)
    for r in rows:
        if r["merge"].startswith("parent"):
            ax.scatter([r["mean_thinking_tokens"]], [100 * r["accuracy"]], marker="*", s=160, color="black", zorder=5)
            ax.annotate(r["model"], (r["mean_thinking_tokens"], 100 * r["accuracy"]), textcoords="offset points",
                        xytext=(6, -10), fontsize=8)
    ax.set_xlabel("mean thinking tokens per problem")
    ax.set_ylabel("accuracy (%)")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, title="merge (labels: reasoning weight)", title_fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def best_tradeoff(rows: list[dict], reasoning: str, max_drop: float = 0.02) -> dict | None:
    """The merge with the fewest thinking tokens whose accuracy is within `max_drop` of the reasoning parent."""
    ref = next((r for r in rows if r["model"] == reasoning), None)
    if ref is None:
        return None
    ok = [r for r in rows if not r["merge"].startswith("parent") and r["accuracy"] >= ref["accuracy"] - max_drop]
    return min(ok, key=lambda r: r["mean_thinking_tokens"], default=None)
