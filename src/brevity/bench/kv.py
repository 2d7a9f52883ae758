"""The bench's KV-cache columns (`brevity bench --kv`): every method crossed with every cache policy, each run
labelled `METHOD kv=POLICY` (`full` keeps the method's own label), and for each policy run its accuracy against
the same method under `full` (paired on the same problems), the peak number of cached trace tokens per sequence
(what the budget bought: the never-evicted window included, the prompt excluded), that peak as a share of the
full run's mean trace, and the peak cache bytes of a sequence (prompt included). The plot draws accuracy
against the peak cached trace tokens, one curve per policy and method.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from pathlib import Path
from statistics import mean

from brevity.bench.metrics import accuracy_holds, paired_bootstrap
from brevity.engines.kv_policy import KVPolicy

SEP = " kv="


def kv_label(spec: str, policy: KVPolicy) -> str:
    return spec if not policy.evicts else f"{spec}{SEP}{policy.text()}"


def split_label(label: str) -> tuple[str, str]:
    """(method spec, policy text): `full` for a label without a policy."""
    spec, _, policy = label.partition(SEP)
    return spec, policy or "full"


def under_policy(problems: list, policy: KVPolicy) -> list:
    """The problems as requests that decode under `policy` (their Decoding's `kv`); unchanged under full."""
    if not policy.evicts:
        return problems
    from brevity.methods.control import Decoding, decoding

    return [dataclasses.replace(p, decoding=dataclasses.replace(p.decoding or Decoding(), kv=policy))
            if decoding(p).kv is None else p for p in problems]


def kv_summary(records: list[dict]) -> dict[str, dict]:
    """{"label @ model": {...}} for every run under an evicting policy; {} when there is none."""
    from brevity.bench.report import current_weights

    rows, _ = current_weights(records, [])
    runs: dict[tuple[str, str], dict[str, dict]] = defaultdict(dict)
    for r in rows:
        runs[(r["method"], r["model"])][r["problem_id"]] = r
    out = {}
    for (label, model), by_id in runs.items():
        spec, policy = split_label(label)
        if policy == "full":
            continue
        full = runs.get((spec, model), {})
        peaks = [r["extra"]["kv"] for r in by_id.values() if "kv" in r.get("extra", {})]
        s: dict = {"method": spec, "policy": policy, "n": len(by_id),
                   "mean_peak_trace_tokens": mean(p["peak_trace_tokens"] for p in peaks) if peaks else None,
                   "max_peak_trace_tokens": max((p["peak_trace_tokens"] for p in peaks), default=None),
                   "max_peak_cache_bytes": max((p["peak_cache_bytes"] for p in peaks), default=None),
                   "mean_evicted_tokens": mean(p["evicted_tokens"] for p in peaks) if peaks else None,
                   "accuracy": mean(bool(r["correct"]) for r in by_id.values()) if by_id else None}
        paired = [i for i in by_id if i in full]
        if paired:
            mine = [float(by_id[i]["correct"]) for i in paired]
            theirs = [float(full[i]["correct"]) for i in paired]
            s["accuracy_diff_vs_full"] = (sum(mine) - sum(theirs)) / len(paired)
            s["accuracy_diff_vs_full_ci95"] = list(paired_bootstrap(mine, theirs))
            s["accuracy_holds"] = accuracy_holds(s["accuracy_diff_vs_full_ci95"])
            trace = mean(full[i]["thinking_tokens"] + full[i]["answer_tokens"] for i in paired)
            s["full_mean_trace_tokens"] = trace
            s["budget_share_of_trace"] = s["max_peak_trace_tokens"] / trace if trace and peaks else None
        out[f"{label} @ {model}"] = s
    return out


def _pct(v) -> str:
    return "–" if v is None else f"{100 * v:.1f}"


def kv_markdown(summary: dict[str, dict]) -> str:
    lines = ["## KV cache", "",
             "Each policy run against the same method under `full` on the same problems. peak trace = the most "
             "trace tokens a sequence held in its cache (the never-evicted window included, the prompt excluded), "
             "mean and max over sequences; share = the max peak over the full run's mean trace (thinking + answer "
             "tokens); bytes = the most a sequence's cache held, prompt included.", "",
             "| run | acc % | Δacc vs full (95% CI) | holds | peak trace mean / max | share of trace % | "
             "peak bytes | evicted |", "|---|---|---|---|---|---|---|---|"]
    for key, s in summary.items():
        ci = s.get("accuracy_diff_vs_full_ci95")
        diff = "–" if ci is None else (f"{100 * s['accuracy_diff_vs_full']:+.1f} "
                                       f"({100 * ci[0]:+.1f}, {100 * ci[1]:+.1f})")
        holds = {True: "yes", False: "no", None: "–"}[s.get("accuracy_holds")]
        mean_peak = "–" if s["mean_peak_trace_tokens"] is None else f"{s['mean_peak_trace_tokens']:.0f}"
        lines.append(f"| {key} | {_pct(s['accuracy'])} | {diff} | {holds} | {mean_peak} / "
                     f"{s['max_peak_trace_tokens']} | {_pct(s.get('budget_share_of_trace'))} | "
                     f"{s['max_peak_cache_bytes']} | {s['mean_evicted_tokens'] or 0:.0f} |")
    return "\n".join(lines)


def plot_kv(summary: dict[str, dict], full_rows: dict[str, dict], path: Path) -> None:
    """Accuracy against the peak cached trace tokens, one curve per (method, policy); each method's full run is
    a dashed line at its accuracy."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curves: dict[tuple[str, str, str], list[dict]] = defaultdict(list)
    for key, s in summary.items():
        model = key.rsplit(" @ ", 1)[1]
        curves[(s["method"], s["policy"].split(":")[0], model)].append(s)
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    colors = plt.get_cmap("tab10").colors
    for i, ((method, policy, model), ss) in enumerate(sorted(curves.items())):
        ss = sorted(ss, key=lambda s: s["max_peak_trace_tokens"] or 0)
        ax.plot([s["max_peak_trace_tokens"] for s in ss], [100 * s["accuracy"] for s in ss], marker="o",
                color=colors[i % len(colors)], label=f"{method} · {policy}")
    for key, acc in sorted(full_rows.items()):
        ax.axhline(100 * acc, linestyle="--", color="grey", linewidth=1, label=f"{key.split(' @ ')[0]} · full")
    ax.set_xlabel("peak cached trace tokens per sequence (budget)")
    ax.set_ylabel("accuracy (%)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    ax.set_title("accuracy against KV-cache budget")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
