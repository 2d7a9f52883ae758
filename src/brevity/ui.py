"""Progress bars and tables on the terminal (rich), kept out of the library code."""

from __future__ import annotations

from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

console = Console(stderr=True)


class ProgressUI:
    def __init__(self, enabled: bool = True):
        self.enabled = enabled

    @contextmanager
    def task(self, description: str, total: int):
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      TimeRemainingColumn(), console=console, disable=not self.enabled, transient=False) as prog:
            tid = prog.add_task(description, total=total)
            yield lambda k: prog.advance(tid, k)


def print_table(rows: list[dict], title: str = "") -> None:
    from rich.table import Table

    from brevity.bench.report import COLUMNS, SAVINGS, SAVINGS_NOTE, cell

    # The terminal gets the headline columns; report.md and summary.json have them all.
    drop = {"aes", "latency_p95_s", "peak_memory_mb", "mean_generated_positions"}
    if len({r["model"] for r in rows}) == 1:
        drop.add("model")
    if all(r.get("strong_share") is None for r in rows):  # no route among the rows
        drop.add("strong_share")
    keep = [c for c in COLUMNS if c[0] not in drop]
    skipped = [f"{r['method']}: {r['skipped_long_prompts']}" for r in rows if r.get("skipped_long_prompts")]
    notes = [f"skipped, prompt longer than the context: {', '.join(skipped)}"] if skipped else []
    if any(r.get("accuracy_holds") is False and r.get(SAVINGS[0]) is not None for r in rows):
        notes.append(SAVINGS_NOTE)
    caption = "; ".join(notes) or None
    table = Table(title=title, caption=caption)
    for _, head in keep:
        table.add_column(head, justify="left" if head in ("method", "model") else "right")
    for r in rows:
        table.add_row(*[cell(r, k) for k, _ in keep])
    report_console().print(table)


def report_console() -> Console:
    """A command's result goes to stdout (progress and notes go to stderr), 160 wide when it is redirected."""
    out = Console()
    return out if out.is_terminal else Console(width=160)
