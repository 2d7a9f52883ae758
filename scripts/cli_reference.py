"""Write the CLI reference (docs/reference/cli.md) from the commands themselves: every command and subcommand with
its help and its options (type, range, default). The suite checks that the committed page is current.

    python scripts/cli_reference.py > docs/reference/cli.md
"""

from __future__ import annotations

import typer
from typer._click import Context

HEADER = """# CLI reference

Generated from the commands (`python scripts/cli_reference.py > docs/reference/cli.md`); `brevity COMMAND --help`
prints the same. Recipes that other installed packages add under `brevity train` are not listed here.
"""


def cell(text: object) -> str:
    return " ".join(str(text).split()).replace("|", "\\|").replace("<", "&lt;")


def default_of(p) -> str:
    if p.required:
        return "required"
    d = p.default
    if getattr(p, "is_flag", False) and p.secondary_opts:
        return f"`{p.opts[0] if d else p.secondary_opts[0]}`"
    if callable(d) or d is None or d in ((), []) or d == "":
        return "–"
    return f"`{d}`"


def kind_of(p, ctx: Context) -> str:
    text = p.display_type(ctx).lower().strip("<>")
    lo, hi = getattr(p, "min", None), getattr(p, "max", None)
    if lo is not None or hi is not None:
        text += " " + (f"{lo} to {hi}" if lo is not None and hi is not None else
                       f">= {lo}" if lo is not None else f"<= {hi}")
    return cell(text)


def document(cmd, path: list[str], ctx: Context, out: list[str]) -> None:
    out.append(f"\n## `{' '.join(path)}`\n")
    help_text = (cmd.help or "").strip()
    if help_text:
        out.append(" ".join(help_text.split("\n\n")[0].split()) + "\n")
    params = [p for p in cmd.params if not getattr(p, "hidden", False)]
    args = [p for p in params if p.param_type_name == "argument"]
    opts = [p for p in params if p.param_type_name == "option"]
    if args:
        described = [f"`{a.name.upper()}` ({cell(a.help or a.display_type(ctx).lower().strip('<>'))})" for a in args]
        out.append("Arguments: " + ", ".join(described) + "\n")
    if opts:
        out.append("| option | type | default | what it does |\n|---|---|---|---|")
        for p in opts:
            flags = ", ".join(f"`{o}`" for o in [*p.opts, *p.secondary_opts])
            out.append(f"| {flags} | {kind_of(p, ctx)} | {default_of(p)} | {cell(p.help or '')} |")
    if hasattr(cmd, "list_commands"):
        sub_ctx = Context(cmd, parent=ctx, info_name=path[-1])
        for name in cmd.list_commands(sub_ctx):
            child = cmd.get_command(sub_ctx, name)
            if child is not None and not getattr(child, "hidden", False):
                document(child, [*path, name], sub_ctx, out)


def reference() -> str:
    from brevity.cli import app

    root = typer.main.get_command(app)
    out = [HEADER]
    document(root, ["brevity"], Context(root, info_name="brevity"), out)
    return "\n".join(out).rstrip() + "\n"


if __name__ == "__main__":
    print(reference(), end="")
