"""Every `brevity ...` command written in the README, the docs, benchmarks/*.sh and resume/README.md parses with
the current CLI: an option a command no longer takes, or a renamed command, fails here, not in a user's shell.
Commands are parsed, not run; prose that quotes half a command (no --out) is fine."""

import re
import shlex
from pathlib import Path

import pytest
import typer

from brevity.cli import app

pytestmark = pytest.mark.fast

ROOT = Path(__file__).resolve().parents[1]
FILES = [ROOT / "README.md", ROOT / "CHANGELOG.md", *sorted(p for p in (ROOT / "docs").rglob("*.md")
                if p.parent.name not in ("results", "reference")),  # run outputs; the reference is the CLI's own
         *sorted((ROOT / "benchmarks").glob("*.sh")), ROOT / "resume" / "README.md"]
COMMAND = re.compile(r"(?<![\w/.-])brevity ((?:train|bench|serve|merge|route|zoo|tasks|formats|regrade|explain)\b"
                     r"[^`\n]*)")
PLACEHOLDER = re.compile(r"^\[?[A-Z][A-Z_]+\]?$")  # RECIPE, DIR, [--lora-rank 8]
try:  # typer 0.29 vendors click
    from typer._click.exceptions import BadOptionUsage, ClickException, MissingParameter, NoArgsIsHelpError
except ImportError:  # pragma: no cover
    from click.exceptions import BadOptionUsage, ClickException, MissingParameter, NoArgsIsHelpError


def shell_words(body: str, variables: dict[str, str]) -> list[str]:
    """The command's words up to the first shell operator, variables expanded (unknown ones: a harmless 1)."""
    body = re.sub(r'"?\$\{\w+\[@\]\}"?|"?\$@"?|\$\([^)]*\)', "", body)  # arrays, arguments, $(...): nothing
    body = re.sub(r"\$\{(\w+)(?::-([^}]*))?\}|\$(\w+)",
                  lambda m: variables.get(m.group(1) or m.group(3), m.group(2) or "1"), body)
    lexer = shlex.shlex(body, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    words = []
    for word in lexer:
        if set(word) <= set("|&;<>()"):
            break
        words.append(word)
    return [w for i, w in enumerate(words) if not (w.isdigit() and i == len(words) - 1)]  # `2>`: the fd number


def documented_commands():
    for path in FILES:
        text = re.sub(r"\\\n\s*", " ", path.read_text())
        variables = {}
        for m in re.finditer(r"^([A-Z_][A-Z0-9_]*)=(\"[^\"]*\"|\S*)", text, re.M) if path.suffix == ".sh" else ():
            name, value = m.group(1), m.group(2).strip('"')
            if f"${{{name}:-" not in value:  # X=${X:-default} keeps the default the command line gives
                variables[name] = value
        for lineno, line in enumerate(text.splitlines(), 1):
            if line.rstrip().endswith("# refused"):  # an example of a command the CLI refuses
                continue
            for m in COMMAND.finditer(line):
                yield f"{path.relative_to(ROOT)}:{lineno}", m.group(1), variables


def parse(argv: list[str]) -> None:
    """Resolve the subcommands and parse the options as `brevity ARGV` would, without invoking anything."""
    cmd = typer.main.get_command(app)
    ctx = cmd.make_context("brevity", list(argv))
    while hasattr(cmd, "resolve_command"):
        protected = ctx._protected_args if hasattr(ctx, "_protected_args") else ctx.protected_args
        args = [*protected, *ctx.args]
        if not args:
            return
        name, cmd, rest = cmd.resolve_command(ctx, args)
        ctx = cmd.make_context(name, rest, parent=ctx)


def test_every_documented_command_parses():
    found, bad = 0, []
    for where, body, variables in documented_commands():
        try:
            argv = shell_words(body, variables)
        except ValueError:  # an unbalanced quote in prose
            continue
        if not argv or argv[-1].endswith(")") or any(w == "..." or PLACEHOLDER.match(w) for w in argv):
            continue  # a sentence, or a pattern (brevity train RECIPE --out DIR ...), not a command
        found += 1
        try:
            parse(argv)
        except MissingParameter:  # prose quoting part of a command
            pass
        except (NoArgsIsHelpError, typer.Exit):  # a group named in prose (`brevity train`), or --help
            pass
        except BadOptionUsage as e:
            if "requires an argument" not in e.format_message():
                bad.append(f"{where}: brevity {' '.join(argv)}: {e.format_message()}")
        except ClickException as e:
            bad.append(f"{where}: brevity {' '.join(argv)}: {e.format_message()}")
    assert found > 100
    assert not bad, "\n".join(bad)
