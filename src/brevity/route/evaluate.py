"""`brevity route eval`: each route's full quality curve on the test split (RouteLLM's evaluation):
both sides answer every problem once, the route's scores order the problems, and every share of strong
calls gives an accuracy and a cost. Reports CPT(50/80/95%), APGR and the operating point the
validation-calibrated threshold picks, and plots quality against the share of strong calls."""

from __future__ import annotations

import json
from pathlib import Path

from brevity.methods.base import RunContext
from brevity.route.curves import apgr, cpt
from brevity.route.method import Route
from brevity.route.sides import run_side
from brevity.tasks import TaskSpec, load_problems


def evaluate_route(route: Route, strong_model: str, task: TaskSpec, n: int, make_engine, ui=None) -> dict:
    from brevity.ui import ProgressUI

    ui = ui or ProgressUI(enabled=False)
    engine = make_engine(strong_model)
    state = route.prepare(RunContext(engine, make_engine=make_engine, task=task, ui=ui))
    fast_m, strong_m = route.side_methods()
    fast_engine = route.fast_engine(RunContext(engine, make_engine=make_engine), state)
    test = load_problems(task.name, split="test", n=n, **dict(task.params))
    with ui.task(f"{route.spec()}: fast side on test", n) as adv:
        fast = run_side(fast_m, fast_engine, test, adv, logprobs=True)
    with ui.task(f"{route.spec()}: strong side on test", n) as adv:
        strong = run_side(strong_m, engine, test, adv)
    scores = route.scores(test, fast_engine, fast, state)
    curve = route.curve(scores, fast, strong)
    fa, sa = curve.accuracy[0], curve.accuracy[-1]
    thr = state["threshold"]
    up = [s > thr for s in scores]
    # The operating point the validation-calibrated threshold gives on test.
    routed_cost = route.routed_costs(fast, strong)
    acc = sum((y if u else x).correct for x, y, u in zip(fast, strong, up)) / n
    cost = sum(rc if u else x.generated_positions for x, rc, u in zip(fast, routed_cost, up)) / n
    return {
        "route": route.spec(), "strong_model": engine.model_name, "fast_model": fast_engine.model_name,
        "fast_method": fast_m.spec(), "strong_method": strong_m.spec(), "n": n,
        "fast_accuracy": fa, "strong_accuracy": sa, "fast_cost": curve.cost[0],
        "strong_cost": sum(s.generated_positions for s in strong) / n,
        "cpt50": cpt(curve, 0.5, fa, sa), "cpt80": cpt(curve, 0.8, fa, sa), "cpt95": cpt(curve, 0.95, fa, sa),
        "apgr": apgr(curve, fa, sa),
        "calibrated": {"validation_share": state["calibrated_share"], "threshold": thr,
                       "test_share": sum(up) / n, "test_accuracy": acc, "test_cost": cost},
        "curve": {"share": curve.share, "accuracy": curve.accuracy, "cost": curve.cost},
    }


def write_route_report(results: list[dict], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "routes.json").write_text(json.dumps([_thin(r) for r in results], indent=1) + "\n")
    lines = ["| route | fast side | strong side | fast acc | strong acc | CPT(50%) | CPT(80%) | CPT(95%) | APGR | "
             "calibrated: strong calls | acc | tokens/problem |", "|" + "---|" * 12]

    def pct(v):
        return "–" if v is None else f"{100 * v:.1f}%"

    for r in results:
        c = r["calibrated"]
        lines.append(f"| `{r['route']}` | {r['fast_method']} @ {r['fast_model']} | {r['strong_method']} @ "
                     f"{r['strong_model']} | {pct(r['fast_accuracy'])} | {pct(r['strong_accuracy'])} | "
                     f"{pct(r['cpt50'])} | {pct(r['cpt80'])} | {pct(r['cpt95'])} | {r['apgr']:.3f} | "
                     f"{pct(c['test_share'])} | {pct(c['test_accuracy'])} | {c['test_cost']:.1f} |")
    (out / "routes.md").write_text("\n".join(lines) + "\n")
    plot_routes(results, out / "routing.png")


def _thin(result: dict, points: int = 101) -> dict:
    """The JSON keeps the curve at about `points` evenly spaced shares (the plot draws every one)."""
    c = result["curve"]
    step = max(1, (len(c["share"]) - 1) // (points - 1))
    idx = sorted(set(range(0, len(c["share"]), step)) | {len(c["share"]) - 1})
    return {**result, "curve": {k: [round(v[i], 5) for i in idx] for k, v in c.items()}}


def plot_routes(results: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4.5))
    for r in results:
        c, cal = r["curve"], r["calibrated"]
        line, = a1.plot([100 * s for s in c["share"]], [100 * a for a in c["accuracy"]], label=r["route"])
        a2.plot(c["cost"], [100 * a for a in c["accuracy"]], color=line.get_color(), label=r["route"])
        a1.scatter([100 * cal["test_share"]], [100 * cal["test_accuracy"]], color=line.get_color(), zorder=5,
                   marker="D")
        a2.scatter([cal["test_cost"]], [100 * cal["test_accuracy"]], color=line.get_color(), zorder=5, marker="D")
    a1.set_xlabel("share of calls to the strong side (%)")
    a2.set_xlabel("mean generated tokens per problem (both sides)")
    for ax in (a1, a2):
        ax.set_ylabel("accuracy (%)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle("routing on the test split: every threshold (lines), the validation-calibrated one (diamonds)",
                 fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
