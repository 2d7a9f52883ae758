"""Methods, tasks and training recipes from another package: its entry points (`brevity.methods`,
`brevity.tasks`, `brevity.recipes`) are found on first use, next to the built-in ones, whatever was imported
before; a clash or a misnamed entry is one line."""

import os
import subprocess
import sys
import textwrap

PLUGIN = '''
from dataclasses import dataclass

import typer

from brevity.methods.budget import CoT
from brevity.tasks import Problem


@dataclass(frozen=True)
class Echo(CoT):
    name = "echo"
    positional = "times"
    times: int = 1


def distil(out: str = typer.Option(...), rounds: int = 1) -> None:
    """A recipe from another package: `brevity train distil`, with its own options."""
    print(f"distil into {out} for {rounds} rounds")


def squares(split="test"):
    """Squares of small numbers: the answer is n times n."""
    for i in range(1000):
        yield Problem(id=f"squares/{split}/{i}", question=f"What is {i} times {i}?", answer=str(i * i))
'''


def plugin(tmp_path, entry_points: str):
    (tmp_path / "brevity_plugin.py").write_text(PLUGIN)
    info = tmp_path / "brevity_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: brevity-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(textwrap.dedent(entry_points))


def run(tmp_path, code: str):
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(tmp_path),
                                                                                        os.environ.get("PYTHONPATH")]))})


def test_a_packages_method_and_task_are_found_by_name(tmp_path):
    plugin(tmp_path, """
        [brevity.methods]
        echo = brevity_plugin:Echo
        [brevity.tasks]
        squares = brevity_plugin:squares
        """)
    r = run(tmp_path, "from brevity.methods import build_method, method_names; "
                      "from brevity.tasks import load_problems, describe_task; "
                      "print(build_method('echo:3').spec(), 'cot' in method_names(), "
                      "load_problems('squares', n=3)[2].answer, describe_task('squares'))")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split()[:3] == ["echo:3", "True", "4"] and "Squares of small numbers" in r.stdout


def test_a_clash_or_a_misnamed_method_is_one_line(tmp_path):
    plugin(tmp_path, """
        [brevity.methods]
        cot = brevity_plugin:Echo
        """)
    r = run(tmp_path, "import sys; sys.argv = ['brevity', 'bench', '--methods', 'cot', '--n', '1']; "
                      "from brevity.cli import main; main()")
    assert r.returncode == 2 and "has the name of a built-in method" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    (tmp_path / "brevity_plugin-0.1.dist-info" / "entry_points.txt").write_text(
        "[brevity.methods]\nrepeat = brevity_plugin:Echo\n")
    r = run(tmp_path, "from brevity.methods import build_method; build_method('cot')")
    assert r.returncode == 1 and "loads a method named 'echo'; the names must agree" in r.stderr


def test_a_packages_recipe_is_a_train_subcommand_with_its_own_options(tmp_path):
    plugin(tmp_path, """
        [brevity.recipes]
        distil = brevity_plugin:distil
        """)
    cli = "import sys; from brevity.cli import main; sys.argv = ['brevity', 'train', *sys.argv[1:]]; main()"
    r = subprocess.run([sys.executable, "-c", cli, "distil", "--out", "m", "--rounds", "3"], capture_output=True,
                       text=True, cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(tmp_path)})
    assert r.returncode == 0 and r.stdout.strip() == "distil into m for 3 rounds", r.stderr
    r = subprocess.run([sys.executable, "-c", cli, "distil", "--out", "m", "--stages", "3"], capture_output=True,
                       text=True, cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(tmp_path)})
    assert r.returncode == 2 and "--stages is not an option of distil; recipes that read it: coconut" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    (tmp_path / "brevity_plugin-0.1.dist-info" / "entry_points.txt").write_text(
        "[brevity.recipes]\ncoconut = brevity_plugin:distil\n")
    r = subprocess.run([sys.executable, "-c", cli, "coconut", "--out", "m"], capture_output=True, text=True,
                       cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(tmp_path)})
    assert r.returncode == 2 and "has the name of a built-in recipe" in r.stderr
